"""A heuristic MinAtar Breakout "expert" and its replay buffer with trajectory indices (seed004 §S2.3, §S2.6b).

The thesis measures TD gains on a buffer D* of a pretrained Rainbow agent acting with ε = 5% on Atari
(§3.2.2.4, §S2.3 "Atari experiments"); as for CartPole (`replab.envs.cartpole_expert`), no agent is trained
or downloaded here: a hand-written Breakout policy plays, with ε = 5% uniformly random actions.

The heuristic reads only the observation (MinAtar Breakout's channels, Young & Tian 2019,
`minatar/environments/breakout.py`: 0 paddle, 1 ball, 2 trail = the ball's previous cell, 3 bricks). The
ball moves one cell along a diagonal per step and reflects off the side walls; the target is the column at
which it would reach the paddle's row (9) if it were falling from its current cell (`landing_column`, its
horizontal direction read from the trail, `ball_dx`): exact while it falls below the bricks (rows 1–3,
which can still reflect a falling ball inside them), and while it rises it keeps the
paddle ahead of a ball that a brick will send down on the same diagonal (our choice: greedy, it scored 24.2
mean over 20 sticky-action episodes against 15.0 for chasing the ball's column; 15.3 with ε = 5%; uniform
random actions 0.25). The paddle moves one cell toward the target, else stays. Actions are MinAtar's minimal set for Breakout
(`minimal_actions=True`: 0 no-op, 1 left, 2 right); MinAtar's sticky actions (0.1) and everything else of
`replab.envs.minatar.MinAtarEnv` are kept.

Buffer and tail rule as `cartpole_expert.collect` (logged in docs/bootstrapping.md): the return of a stored
step is computed on the rollout continued `tail` steps beyond the `horizon` stored steps of an episode
(γ^700 ≈ 9e-4 at γ = 0.99) instead of being cut at a limit the state does not show; a stored trajectory
that did not terminate ends in a bootstrap state.
"""

from __future__ import annotations

import numpy as np

from replab import seeding
from replab.envs._expert_buffer import collect as collect_buffer

HORIZON = 1000
"""Stored steps per episode (our choice: about a fifth of the ε-expert's episodes last longer and are cut here)."""

NOOP, LEFT, RIGHT = 0, 1, 2
"""Breakout's minimal action set as `MinAtarEnv(minimal_actions=True)` indexes it (MinAtar 'n', 'l', 'r')."""

PADDLE, BALL, TRAIL = 0, 1, 2
"""MinAtar Breakout's state channels (breakout.py `self.channels`)."""


def landing_column(x: int, y: int, dx: int) -> int:
    """The column at which a ball at (x, y) falling with horizontal step dx ∈ {−1, +1} reaches row 9.

    Breakout moves the ball by (dx, +1) per step and clips x to [0, 9] while reversing dx (breakout.py
    `act`); below the bricks nothing else reflects a falling ball."""
    for _ in range(9 - y):
        x += dx
        if not 0 <= x <= 9:
            x = min(max(x, 0), 9)
            dx = -dx
    return x


def ball_dx(bx: int, tx: int) -> int:
    """The horizontal step (−1, +1, or 0 if unknown) of the ball in column bx whose trail is in column tx.

    From breakout.py's rules: the trail is the ball's previous cell, except right after reset, where it
    equals the ball (which starts in column 0 moving right or in column 9 moving left), and after a wall
    hit, where x was clipped (the ball then moves away from that wall)."""
    return int(np.sign(bx - tx)) or (1 if bx == 0 else -1 if bx == 9 else 0)


def expert_action(obs: np.ndarray) -> int:
    """The heuristic on one channels-first observation (C, 10, 10): move the paddle toward the target."""
    obs = np.asarray(obs)
    paddle = int(np.flatnonzero(obs[PADDLE, 9])[0])
    by, bx = (int(v[0]) for v in np.nonzero(obs[BALL]))
    ty, tx = (int(v[0]) for v in np.nonzero(obs[TRAIL]))
    dx = ball_dx(bx, tx)
    target = landing_column(bx, by, dx) if dx else bx
    if target < paddle:
        return LEFT
    if target > paddle:
        return RIGHT
    return NOOP


def make_env(max_episode_steps: int | None = None):
    """The MinAtar Breakout env the expert plays (minimal actions, MinAtar's defaults otherwise)."""
    from replab.envs.minatar import MinAtarEnv

    return MinAtarEnv("breakout", minimal_actions=True, max_episode_steps=max_episode_steps)


def collect(
    n: int,
    seed: int,
    *,
    epsilon: float = 0.05,
    gamma: float = 0.99,
    horizon: int = HORIZON,
    tail: int = 700,
) -> dict[str, np.ndarray]:
    """`n` transitions of the ε-expert on Breakout, whole episodes until `n` are stored (the last one cut).

    Returns numpy arrays, one row per transition t, as `cartpole_expert.collect`: `obs` (n, 4, 10, 10)
    float32, `action`, `reward`, `next_obs`, `next_action` (the action logged at next_obs: the behaviour's,
    from the continued rollout when the stored trajectory ends without terminating; 0 after a terminal),
    `terminal` (the ball was lost at this step: no bootstrap), `last` (the last stored step of its
    trajectory), `traj` (trajectory id), `pos` (index within its trajectory), `returns` (Σ_j γ^j r_{t+j} over
    the rollout, continued `tail` steps beyond `horizon` when it had not terminated). Everything is drawn
    from `seed` (the env's reset seeds, hence MinAtar's ball start and sticky actions, and the ε draws)."""
    rng = seeding.rng(seed, "minatar-expert")
    return collect_buffer(
        make_env, rng, expert_action, 3, n, epsilon=epsilon, gamma=gamma, horizon=horizon, tail=tail
    )


def episode_score(policy, seed: int, max_steps: int = 2000) -> float:
    """The undiscounted score of one Breakout episode (cut at `max_steps`) of `policy(obs) -> action`."""
    env = make_env()
    obs, _ = env.reset(seed=seed)
    total = 0.0
    for _ in range(max_steps):
        obs, r, terminated, _, _ = env.step(policy(obs))
        total += r
        if terminated:
            break
    env.close()
    return total
