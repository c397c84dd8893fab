"""The `minatar` setting of `corrected-momentum`: TD(0) policy evaluation on an expert's replay buffer with a
small convolutional value network (thesis §4.3.2.3, Fig 4.16; §4.3.3.8 "Atari small model"), scaled to
MinAtar Breakout.

The thesis evaluates a pretrained Rainbow agent on Atari MsPacman from a replay buffer, with no frozen target,
and measures the MSE "against sampled returns G^π". Here the ε-expert of `replab.envs.minatar_expert`
(a hand-written Breakout policy, ε = 5%) fills the buffer, with the discounted Monte-Carlo return of every
stored step (γ = 0.99, the thesis's Atari γ: §3.2.4.2, Figs 3.7–3.10). Choices (logged in docs/bootstrapping.md):

- training transitions: `minatar_buffer` steps of the expert, collected once per run (every seed and method
  trains on the same buffer; seeds differ in the initial network and the minibatch draws);
- the metric: MSE of V_θ(s) to the sampled return G on the `n_eval` evaluation states: the steps of other
  episodes of the same expert (a second collection with its own seed). They are not unseen states: most also
  occur in the training buffer (Breakout's states repeat: at the DEFAULT sizes and run seeds 0–4, 70–99% of
  them byte for byte, from only 4–11 episodes; run seed 0, the 5-seed run's: 92%, 6 episodes), but their
  returns are independent samples. `expert_data` measures both (the run records
  them: `eval_set`). G is a sample of V^π(s), so the MSE includes the return's variance (a floor above 0);
  the best constant predictor's MSE is Var(G) on those states.

The network (`conv_value_net`): the thesis's small model is Conv2d(4, n_h, 3, 2, 1), 3 × Conv2d(n_h, n_h, 3,
2, 1), Conv2d(n_h, n_acts, 6) on 84 × 84 frames — stride-2 3 × 3 convolutions, then a head whose kernel covers
the whole remaining map (84 → 42 → 21 → 11 → 6, kernel 6). On MinAtar's 10 × 10 × C states `depth` stride-2
convolutions (default 2: 10 → 5 → 3) keep that structure, and the head's kernel is the remaining map (3);
n_h = 16 as the thesis. One output V(s) instead of n_acts Q-values (we evaluate V^π, the quantity the
returns sample; a deviation). LeakyReLU between layers (§S3.3). At n_h = 16 and depth 2: 3057 parameters
(the thesis's: ≈ 12.8k at 84 × 84), so the full ζ is 9.3M floats.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from replab.envs.minatar_expert import collect
from replab.nn.init import uniform_fan_in_

SIDE, CHANNELS = 10, 4
"""MinAtar's state is SIDE × SIDE × C (Young & Tian 2019); Breakout has 4 channels (paddle, ball, trail,
bricks)."""


def conv_sizes(depth: int, side: int = SIDE) -> list[int]:
    """The map side after each stride-2 3 × 3 convolution with padding 1: ⌊(s − 1)/2⌋ + 1."""
    sizes = [side]
    for _ in range(depth):
        sizes.append((sizes[-1] - 1) // 2 + 1)
    return sizes


def conv_value_net(channels: int, hidden: int, depth: int, seed: int) -> nn.Sequential:
    """`depth` × (Conv2d(·, hidden, 3, stride 2, padding 1), LeakyReLU), then Conv2d(hidden, 1, k) with k the
    remaining map's side, flattened to (m, 1); PyTorch's default initialisation (weights and biases
    U(±1/√fan_in)) drawn from a generator seeded with `seed`."""
    if depth < 1 or conv_sizes(depth)[-1] < 1:
        raise ValueError(f"depth must be >= 1 stride-2 convolutions, got {depth}")
    layers, width = [], channels
    for _ in range(depth):
        layers += [nn.Conv2d(width, hidden, 3, 2, 1), nn.LeakyReLU()]
        width = hidden
    net = nn.Sequential(*layers, nn.Conv2d(width, 1, conv_sizes(depth)[-1]), nn.Flatten())
    return uniform_fan_in_(net, torch.Generator().manual_seed(seed))


def expert_data(n_buffer: int, n_eval: int, rng_data: np.random.Generator, rng_eval: np.random.Generator,
                gamma: float) -> tuple[dict, torch.Tensor, torch.Tensor, dict]:  # fmt: skip
    """(the training buffer with `discount` = γ(1 − terminal), the evaluation states (n_eval, C, 10, 10),
    their sampled returns G, `eval_set`), from two collections of the ε-expert seeded from the two
    generators. `eval_set` describes the evaluation states: `episodes` (how many episodes they come from)
    and `in_training_buffer` (the fraction of them that occur byte for byte among the training buffer's
    states) — a description, not part of the metric."""
    buf = collect(n_buffer, int(rng_data.integers(2**31)), gamma=gamma)
    buf["discount"] = (gamma * (1.0 - buf["terminal"].astype(np.float32))).astype(np.float32)
    ev = collect(n_eval, int(rng_eval.integers(2**31)), gamma=gamma)
    seen = {row.tobytes() for row in buf["obs"]}
    info = {
        "episodes": len(np.unique(ev["traj"])),
        "in_training_buffer": float(np.mean([row.tobytes() in seen for row in ev["obs"]])),
    }
    return buf, torch.from_numpy(ev["obs"]), torch.from_numpy(ev["returns"]), info


def buffer_batches(buf: dict, batch: int, rng: np.random.Generator):
    """Minibatches (s, r, s′, γ(1 − terminal)) of `batch` transitions drawn uniformly with replacement."""
    n = len(buf["reward"])
    while True:
        i = rng.integers(0, n, batch)
        yield tuple(torch.from_numpy(buf[k][i]) for k in ("obs", "reward", "next_obs", "discount"))
