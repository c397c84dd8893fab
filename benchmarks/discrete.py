"""Discrete-control throughput: replab's DQN training loop vs Stable-Baselines3's DQN, and replab's Atari
wrapper stack vs gymnasium's AtariPreprocessing, each pair measured in the same process.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.discrete [--steps 1000] [--rounds 3] [--frames 20000]

1. Agent steps per second with one gradient update per step (act, env step, replay insert, sample,
   update), after a warm-up that fills the replay. The networks are identical: Atari = the Nature DQN
   (SB3's default CnnPolicy: NatureCNN with its 512-unit layer, then Linear(512, A); replab: `nature`
   encoder + a non-dueling head of hidden 512), MinAtar = one 3×3 conv with 16 filters then 128 hidden
   units (a custom SB3 features extractor). Both: batch 32, Adam, ε = 0.05 fixed, 1-step targets, uniform
   replay, target copy every 1000 updates, 1 torch thread. replab stores frames once and rebuilds the
   stacks; SB3's buffer stores obs and next_obs (its default, optimize_memory_usage=False).
2. Environment frames per second of the Atari100k wrapper stack on Pong with random actions: replab's
   `make("atari:Pong")` (frame skip 4 with max-pool, 84×84 grayscale, 4-frame stack, 1–30 no-ops) vs
   gymnasium `AtariPreprocessing(frame_skip=4, screen_size=84, noop_max=30)` + `FrameStackObservation(4)`
   on `ALE/Pong-v5` with frameskip=1 and no sticky actions.
Rounds alternate between the two implementations; the median over rounds is reported. `--breakdown` times
the pieces of replab's step instead, `--layers` the GMAC/s of each Nature-DQN layer (the arithmetic floor).

`--device cuda` puts both agents' networks and replays on the GPU (SB3: `device="cuda"`; replab: `DQN(device=)`
and `FrameReplay(device=)`); the rates are then wall-clock seconds with `torch.cuda.synchronize()` before
each clock reading, since CPU time does not see the GPU's work. The wrapper benchmark is CPU-only either way.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F

from replab.envs import make
from replab.errors import ReplabError, require_extra
from replab.launch import check_device
from replab.rl.buffers import FrameReplay
from replab.rl.loop import train
from replab.rl.qnet import minatar_encoder
from replab.rl.rainbow import DQN, dqn_config

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
_clock = [time.process_time]
_device = [torch.device("cpu")]  # where both agents' networks and replays live (--device)


def clock() -> float:
    """The timer of the rates: process CPU seconds by default (robust on a shared machine), or wall;
    on CUDA the queued kernels finish first, so a reading includes the GPU work issued before it."""
    if _device[0].type == "cuda":
        torch.cuda.synchronize(_device[0])
    return _clock[0]()


def ours_sps(env_name: str, cfg_kw: dict, steps: int, warm: int, seed: int) -> float:
    env = make(env_name)
    shape = env.observation_space.shape
    frames = 4 if env_name.startswith("atari") else 1
    cfg = dqn_config(
        epsilon_start=0.05, epsilon_end=0.05, target_update=1000, lr=1e-4, adam_eps=1.5e-4, **cfg_kw
    )
    torch.manual_seed(seed)
    agent = DQN(shape, env.action_space.n, cfg=cfg, device=_device[0])
    replay = FrameReplay(
        steps + warm + 10,
        (shape[0] // frames, *shape[1:]),
        frame_stack=frames,
        n_step=1,
        batch_size=32,
        device=_device[0],
        verbose=False,
    )
    train(agent, env, replay, agent_steps=warm, learn_start=warm + 1, seed=seed)  # fill, no updates
    t0 = clock()
    train(agent, env, replay, agent_steps=steps, learn_start=0)
    return steps / (clock() - t0)


class MinAtarExtractor:
    """An SB3 features extractor with replab's MinAtar conv (built lazily: SB3 is an optional import)."""

    @staticmethod
    def cls():
        from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

        class Extractor(BaseFeaturesExtractor):
            def __init__(self, observation_space, features_dim: int = 0):
                c = observation_space.shape[0]
                super().__init__(observation_space, features_dim=16 * 8 * 8)
                self.net = minatar_encoder(c)

            def forward(self, x):
                return self.net(x)

        return Extractor


def sb3_sps(env_name: str, steps: int, warm: int, seed: int) -> float:
    sb3 = require_extra("stable_baselines3", "bench")
    env = make(env_name)
    if env_name.startswith("minatar"):
        policy_kwargs = dict(
            features_extractor_class=MinAtarExtractor.cls(), normalize_images=False, net_arch=[128]
        )
    else:
        policy_kwargs = dict(net_arch=[])  # NatureCNN (with its Linear(3136, 512)) then Linear(512, A)
    torch.manual_seed(seed)
    model = sb3.DQN(
        "CnnPolicy",
        env,
        learning_rate=1e-4,
        buffer_size=steps + warm + 10,
        learning_starts=warm,
        batch_size=32,
        gamma=0.99,
        train_freq=1,
        gradient_steps=1,
        target_update_interval=1000,
        exploration_initial_eps=0.05,
        exploration_final_eps=0.05,
        policy_kwargs=policy_kwargs,
        seed=seed,
        verbose=0,
        device=_device[0],
    )
    model.learn(total_timesteps=warm)
    t0 = clock()
    model.learn(total_timesteps=steps, reset_num_timesteps=False)
    return steps / (clock() - t0)


def wrapper_fps(kind: str, agent_steps: int, seed: int) -> float:
    if kind == "replab":
        env = make("atari:Pong")
    else:
        ale_py = require_extra("ale_py", "atari")
        require_extra("cv2", "bench")
        gym.register_envs(ale_py)
        env = gym.make("ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0)
        env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84)
        env = gym.wrappers.FrameStackObservation(env, 4)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    n = env.action_space.n
    t0 = clock()
    for _ in range(agent_steps):
        _, _, term, trunc, _ = env.step(int(rng.integers(n)))
        if term or trunc:
            env.reset()
    return 4 * agent_steps / (clock() - t0)


def network_floor_ms(env_name: str, cfg_kw: dict, reps: int) -> float:
    """ms per agent step (CPU, or synchronised wall on CUDA) of the network arithmetic both libraries must
    do: the acting forward (batch 1), the online forward + backward and the target forward (batch 32), one
    Adam step (replab's fused kernel; SB3's per-tensor Adam is slower). Median of `reps` timed blocks."""
    env = make(env_name)
    shape, n = env.observation_space.shape, env.action_space.n
    agent = DQN(shape, n, cfg=dqn_config(**cfg_kw), device=_device[0])
    high = 256 if env_name.startswith("atari") else 2
    x = torch.randint(0, high, (32, *shape), dtype=torch.uint8, device=_device[0])
    net, target = agent.online, agent.target

    def one():
        with torch.no_grad():
            net(x[:1])
            target(x)
        for p in net.parameters():
            p.grad = None
        net(x).sum().backward()
        agent.optimizer.step()

    one()
    times = []
    for _ in range(reps):
        t0 = clock()
        for _ in range(10):
            one()
        times.append((clock() - t0) / 10)
    return 1000 * statistics.median(times)


def layer_rates(reps: int) -> list[tuple[str, float, float, float, float]]:
    """Arithmetic rate of each Nature-DQN layer at batch 32 (convs channels-last, as replab and oneDNN run
    them): (layer, MMAC of one pass, forward ms, input-gradient ms, weight-gradient ms), CPU time, median of
    `reps` blocks of 20 calls. Conv 1's input gradient is never needed (its input is the observation)."""

    def timed(fn) -> float:
        fn()
        times = []
        for _ in range(reps):
            t0 = time.process_time()
            for _ in range(20):
                fn()
            times.append(1000 * (time.process_time() - t0) / 20)
        return statistics.median(times)

    convs = {"conv 8x8/4, 4→32": (4, 84, 32, 8, 4), "conv 4x4/2, 32→64": (32, 20, 64, 4, 2)}
    convs["conv 3x3/1, 64→64"] = (64, 9, 64, 3, 1)
    conv_grad, out = torch.ops.aten.convolution_backward, []
    for name, (c, h, o, k, s) in convs.items():
        x = torch.randn(32, c, h, h).contiguous(memory_format=torch.channels_last)
        w = torch.randn(o, c, k, k).contiguous(memory_format=torch.channels_last)
        g = torch.randn_like(F.conv2d(x, w, stride=s))
        args = (g, x, w, None, [s, s], [0, 0], [1, 1], False, [0, 0], 1)
        fwd = timed(lambda x=x, w=w, s=s: F.conv2d(x, w, stride=s))
        gin = timed(lambda a=args: conv_grad(*a, [True, False, False]))
        gw = timed(lambda a=args: conv_grad(*a, [False, True, False]))
        out.append((name, g.numel() * c * k * k / 1e6, fwd, gin, gw))
    x, w, g = torch.randn(32, 3136), torch.randn(512, 3136), torch.randn(32, 512)
    fwd, gin, gw = timed(lambda: F.linear(x, w)), timed(lambda: g @ w), timed(lambda: g.t() @ x)
    out.append(("linear 3136→512", 32 * 3136 * 512 / 1e6, fwd, gin, gw))
    return out


def breakdown(env_name: str, cfg_kw: dict, warm: int, reps: int) -> list[tuple[str, float]]:
    """CPU µs per call of the pieces of one replab agent step (the code path `ours_sps` times), each
    timed in isolation with `time.thread_time`, median over `reps` blocks interleaved with the others."""
    env = make(env_name)
    shape, n = env.observation_space.shape, env.action_space.n
    frames = 4 if env_name.startswith("atari") else 1
    cfg = dqn_config(
        epsilon_start=0.05, epsilon_end=0.05, target_update=1000, lr=1e-4, adam_eps=1.5e-4, **cfg_kw
    )
    torch.manual_seed(0)
    agent = DQN(shape, n, cfg=cfg)
    replay = FrameReplay(
        20 * warm,
        (shape[0] // frames, *shape[1:]),
        frame_stack=frames,
        n_step=1,
        batch_size=32,
        verbose=False,
    )
    train(agent, env, replay, agent_steps=warm, learn_start=warm + 1, seed=0)
    obs, _ = env.reset(seed=1)
    batch = replay.sample()
    greedy = DQN(shape, n, cfg=dqn_config(epsilon_start=0.0, epsilon_end=0.0, **cfg_kw))
    net, target = agent.online, agent.target

    def env_step():
        if env.step(0)[2]:
            env.reset()

    def target_fwd():
        with torch.no_grad():
            target(batch.next_obs)

    def online_fwd_bwd():
        for p in net.parameters():
            p.grad = None
        net(batch.obs).sum().backward()

    def loop_step():
        train(agent, env, replay, agent_steps=20, learn_start=0)

    pieces = {
        "whole loop step (train(), per agent step)": (loop_step, 1 / 20),
        "act, greedy (forward at batch 1)": (lambda: greedy.act(obs, explore=True), 1.0),
        "env.step": (env_step, 1.0),
        "replay.add": (lambda: replay.add(0, 0.0, obs, False, False), 1.0),
        "replay.sample": (replay.sample, 1.0),
        "agent.update (all of it)": (lambda: agent.update(batch, 0), 1.0),
        "  of which: online forward + backward": (online_fwd_bwd, 1.0),
        "  of which: target forward (no grad)": (target_fwd, 1.0),
    }
    times = {k: [] for k in pieces}
    for _ in range(reps):
        for k, (fn, per) in pieces.items():
            fn()
            calls = 5 if per < 1 else 50
            t0 = time.thread_time()
            for _ in range(calls):
                fn()
            times[k].append(1e6 * per * (time.thread_time() - t0) / calls)
    return [(k, statistics.median(v)) for k, v in times.items()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000, help="timed agent steps (with updates) per round")
    ap.add_argument("--warm", type=int, default=500, help="replay warm-up steps (no updates)")
    ap.add_argument("--frames", type=int, default=20_000, help="frames per round of the wrapper benchmark")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="cpu", help="rates per CPU or wall second")
    ap.add_argument("--cases", default="minatar,atari,wrappers", help="comma-separated subset to run")
    ap.add_argument("--breakdown", action="store_true", help="only the CPU µs per piece of replab's step")
    ap.add_argument("--layers", action="store_true", help="only the GMAC/s of each Nature-DQN layer (CPU)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (wall-clock seconds, synchronised)")
    args = ap.parse_args()
    todo = set(args.cases.split(","))
    _clock[0] = CLOCKS[args.clock]
    try:  # the CLI's check: cpu, cuda or cuda:N, and CUDA present
        _device[0] = torch.device(check_device(args.device))
    except ReplabError as e:
        raise SystemExit(str(e)) from None
    if _device[0].type == "cuda":
        if args.breakdown or args.layers:
            raise SystemExit("--breakdown and --layers time CPU work only; use them with --device cpu")
        _clock[0] = time.perf_counter
        print(f"device {torch.cuda.get_device_name(_device[0])}: rates per wall-clock second", flush=True)
    torch.set_num_threads(args.threads)
    rows, floors = [], []
    cases = {
        "MinAtar breakout": ("minatar:breakout", dict(encoder="minatar", obs_scale=1.0, hidden=128)),
        "Atari Pong": ("atari:Pong", dict(encoder="nature", hidden=512)),
    }
    if args.layers:
        print(
            "\n| Nature-DQN layer, batch 32 | MMAC per pass | forward ms | input grad ms | weight grad ms | "
            "forward GMAC/s | weight grad GMAC/s |\n|---|---|---|---|---|---|---|"
        )
        for name, mmac, fwd, gin, gw in layer_rates(args.rounds):
            print(
                f"| {name} | {mmac:.0f} | {fwd:.2f} | {gin:.2f} | {gw:.2f} | {mmac / fwd:.0f} | {mmac / gw:.0f} |"
            )
        return
    if args.breakdown:
        for label, (env_name, cfg_kw) in cases.items():
            if env_name.split(":")[0] in todo:
                print(f"\n| {label}: piece of replab's DQN step | CPU µs per call |\n|---|---|")
                for k, us in breakdown(env_name, cfg_kw, args.warm, args.rounds):
                    print(f"| {k} | {us:.0f} |", flush=True)
        return
    for label, (env_name, cfg_kw) in cases.items():
        if env_name.split(":")[0] not in todo:
            continue
        ours, theirs, floor_ms = [], [], []
        for r in range(args.rounds):  # alternate which one runs first in a round
            if r % 2:
                theirs.append(sb3_sps(env_name, args.steps, args.warm, r))
            ours.append(ours_sps(env_name, cfg_kw, args.steps, args.warm, r))
            if not r % 2:
                theirs.append(sb3_sps(env_name, args.steps, args.warm, r))
            floor_ms.append(network_floor_ms(env_name, cfg_kw, 3))  # in every round: the load changes
            print(
                f"{label} round {r}: replab {ours[-1]:.1f} / SB3 {theirs[-1]:.1f} agent steps/s, "
                f"network floor {floor_ms[-1]:.2f} ms",
                flush=True,
            )
        o, t = statistics.median(ours), statistics.median(theirs)
        paired = sorted(a / b for a, b in zip(ours, theirs))  # the two runs of a round share the load
        rows.append(
            f"| {label} | DQN agent steps/s (1 update/step) | {o:.1f} | {t:.1f} (SB3 DQN) | {o / t:.2f}x "
            f"(per round {statistics.median(paired):.2f}x, {paired[0]:.2f}–{paired[-1]:.2f}) |"
        )
        floor = statistics.median(floor_ms)
        floors.append(
            f"| {label} | {1000 / o:.2f} | {1000 / t:.2f} | {floor:.2f} | {100 * floor * o / 1000:.0f}% | "
            f"{100 * floor * t / 1000:.0f}% | {1000 / floor / t:.2f}x |"
        )
    ours, theirs = [], []
    for r in range(args.rounds if "wrappers" in todo else 0):
        ours.append(wrapper_fps("replab", args.frames // 4, r))
        theirs.append(wrapper_fps("gymnasium", args.frames // 4, r))
        print(f"wrappers round {r}: replab {ours[-1]:.0f} / gymnasium {theirs[-1]:.0f} frames/s", flush=True)
    if ours:
        o, t = statistics.median(ours), statistics.median(theirs)
        rows.append(
            f"| Atari Pong | env frames/s (wrapper stack) | {o:.0f} | {t:.0f} (AtariPreprocessing) | {o / t:.2f}x |"
        )
    print("\n| setting | measure | replab | anchor | ratio |\n|---|---|---|---|---|")
    print("\n".join(rows))
    if floors:
        print(
            "\n| setting | replab ms/step | SB3 ms/step | network floor ms/step | floor / replab step | "
            "floor / SB3 step | ratio ceiling (SB3 / floor) |\n|---|---|---|---|---|---|---|"
        )
        print("\n".join(floors))


if __name__ == "__main__":
    main()
