"""Benchmark: GFlowNet training iterations per second on the hyper-grid, replab vs torchgfn, same process.

One iteration = sample 16 trajectories from the current policy + compute the loss on them + one Adam
step, on HyperGrid(n=4, H=8, R0=0.1) with the same MLP (one-hot 32 → 256 → 256 → n_actions,
LeakyReLU) and the same objective. torchgfn's hyper-grid has no forced termination, so replab runs its
`forced_termination=False` variant for the like-for-like rows; the thesis variant is timed too.

torchgfn needs numpy<2, so this runs in its own environment: `make bench-gfn` (creates `build/venv-gfn`).
    python benchmarks/gfn.py [--iters 200] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

# this file is named gfn.py (and a sibling ssl.py exists): drop this folder from the import path before
# importing anything else, so `import gfn` finds torchgfn and `import ssl` the standard library
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import torch  # noqa: E402

from replab.gfn.gflownet import GFlowNet  # noqa: E402
from replab.gfn.hypergrid import HyperGrid  # noqa: E402

N, H, BATCH, HIDDEN, LR = 4, 8, 16, 256, 1e-3


def replab_step(objective: str, forced: bool):
    env = HyperGrid(N, H, R0=0.1, forced_termination=forced)
    gfn = GFlowNet(env, objective, hidden=HIDDEN, lr=LR, generator=torch.Generator().manual_seed(0))

    def step():
        gfn.train_step(BATCH)

    return step


def torchgfn_step(objective: str):
    from gfn.estimators import DiscretePolicyEstimator, ScalarEstimator
    from gfn.gflownet import DBGFlowNet, FMGFlowNet, TBGFlowNet
    from gfn.gym import HyperGrid as TGHyperGrid
    from gfn.preprocessors import KHotPreprocessor
    from gfn.utils.modules import MLP

    env = TGHyperGrid(ndim=N, height=H, reward_fn_kwargs={"R0": 0.1, "R1": 0.5, "R2": 2.0})
    pre = KHotPreprocessor(height=H, ndim=N)

    def mlp(out):
        return MLP(
            input_dim=pre.output_dim,
            output_dim=out,
            hidden_dim=HIDDEN,
            n_hidden_layers=2,
            activation_fn="leaky_relu",
        )

    if objective == "fm":
        module = mlp(env.n_actions)
        gfn = FMGFlowNet(DiscretePolicyEstimator(module, env.n_actions, preprocessor=pre))
        params = list(module.parameters())
    else:  # uniform backward policy over the parent edges, as in replab: a zero-logit P_B module
        pf_module = mlp(env.n_actions)
        pb = DiscretePolicyEstimator(
            _Zeros(env.n_actions - 1), env.n_actions, preprocessor=pre, is_backward=True
        )
        pf = DiscretePolicyEstimator(pf_module, env.n_actions, preprocessor=pre)
        params = list(pf_module.parameters())
        if objective == "tb":
            gfn = TBGFlowNet(pf=pf, pb=pb, init_logZ=0.0)
        else:
            logF_module = mlp(1)
            gfn = DBGFlowNet(pf=pf, pb=pb, logF=ScalarEstimator(logF_module, preprocessor=pre))
            params += list(logF_module.parameters())
        params += [p for n, p in gfn.named_parameters() if "logZ" in n]
    opt = torch.optim.Adam(params, lr=LR)

    def step():
        trajectories = gfn.sample_trajectories(env, n=BATCH, save_logprobs=objective != "fm")
        samples = gfn.to_training_samples(trajectories)
        opt.zero_grad()
        loss = (
            gfn.loss(env, samples)
            if objective == "fm"
            else gfn.loss(env, samples, recalculate_all_logprobs=False)
        )
        loss.backward()
        opt.step()

    return step


class _Zeros(torch.nn.Module):
    def __init__(self, out: int):
        super().__init__()
        self.out = out

    def forward(self, x):
        return torch.zeros(*x.shape[:-1], self.out)


def time_it(step, iters: int) -> float:
    t = time.perf_counter()
    for _ in range(iters):
        step()
    return iters / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--objectives", default="fm,tb")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from importlib.metadata import version

    print(
        f"torch {torch.__version__}, torchgfn {version('torchgfn')}, {platform.processor() or platform.machine()}, "
        f"{args.threads} thread(s); n={N}, H={H}, batch {BATCH} trajectories, MLP {HIDDEN}x2; median of {args.repeats} "
        f"interleaved blocks of {args.iters} iterations (after warm-up)"
    )
    rows = []
    for objective in args.objectives.split(","):
        contenders = {
            "replab (torchgfn env)": replab_step(objective, forced=False),
            "replab (thesis env)": replab_step(objective, forced=True),
            "torchgfn": torchgfn_step(objective),
        }
        for step in contenders.values():
            time_it(step, max(args.iters // 4, 10))  # warm-up: the policy leaves its initial regime
        rates = {k: [] for k in contenders}
        for _ in range(args.repeats):
            for name, step in contenders.items():
                rates[name].append(time_it(step, args.iters))
        med = {k: statistics.median(v) for k, v in rates.items()}
        for name in contenders:
            rows.append((objective, name, med[name], med[name] / med["torchgfn"]))
    print("\n| objective | implementation | iterations/s | ratio vs torchgfn |\n|---|---|---|---|")
    for objective, name, rate, ratio in rows:
        print(f"| {objective} | {name} | {rate:.1f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
