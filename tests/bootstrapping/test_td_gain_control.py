"""td-gain's `control` arm (Q-learning control, thesis Fig 3.8): its own replay keeps whole episodes with
consistent trajectory ids, it acts ε-greedily with its own live Q, bad values fail clearly, and a SMOKE
run with `control` among the objectives reports it beside `ql`."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from _bootstrapping_helpers import RecordingRun

from replab import seeding
from replab.experiments.bootstrapping import _td_gain_control as ctl
from replab.experiments.bootstrapping import td_gain as tg
from replab.experiments.bootstrapping._td_gain_tasks import TASKS
from replab.probe.td_gain import trajectory_offsets

TINY = dataclasses.replace(
    tg.SMOKE, seeds=1, steps=300, gain_every=100, gain_positions=8, transitions=200, probes="none"
)


def _train(cfg=TINY, **kw):
    kept = {}
    data = tg._data(cfg, 0, 0)
    out = ctl.train_control(
        cfg, RecordingRun(), 0, data, on_end=lambda r, n: kept.update(replay=r, net=n), **kw
    )
    return out, kept["replay"], kept["net"]


def test_replay_keeps_episodes_whole_for_the_probe():
    """Rows of one stored episode are consecutive and chain (next obs = the next row's obs), trajectory ids
    agree with the episode log, and the probe's offset mask admits exactly the same-episode neighbours."""
    out, replay, _ = _train()
    n = replay.size
    assert n == TINY.steps + max(TINY.batch, round(ctl.WARMUP * TINY.steps))
    traj = replay.traj[:n].numpy()
    assert traj[0] == 0 and set(np.diff(traj)) <= {0, 1}
    same = traj[1:] == traj[:-1]
    assert same.any() and (~same).any()
    # within an episode the env's next observation is the next row's observation
    np.testing.assert_array_equal(replay.s2[:n][:-1][same].numpy(), replay.s[1:n][same].numpy())
    # an episode ends where it terminated (CartPole's episodes here are far below the 500-step cut)
    assert replay.terminal[:n][:-1].numpy()[~same].all()
    assert not replay.terminal[:n][:-1].numpy()[same].any()
    # the trajectory ids from the episode log (env step at which each episode ended), computed apart
    ends = np.array([e[0] for e in out["episodes"]])
    np.testing.assert_array_equal(np.searchsorted(ends, np.arange(1, n + 1)), traj)
    # the probe's mask on the sampled window: valid iff the neighbour is in the window and its episode
    rows = replay.rows()
    w = len(rows["r"])
    assert w == TINY.transitions < n  # the FIFO window: the last `transitions` rows
    centres = torch.arange(w)
    offsets = torch.arange(-TINY.max_offset, TINY.max_offset + 1)
    _, valid = trajectory_offsets(rows["traj"], centres, offsets)
    wt = traj[n - w :]
    for c in range(w):
        for j, k in enumerate(offsets.tolist()):
            want = 0 <= c + k < w and wt[c + k] == wt[c]
            assert bool(valid[c, j]) == want
    # the probe measured at in-episode offsets of its own replay, and only there
    assert out["count"][TINY.max_offset] == 3 * TINY.gain_positions  # k = 0 always valid
    assert max(out["count"]) == out["count"][TINY.max_offset]  # neighbours only where in-episode
    assert min(out["count"]) < out["count"][TINY.max_offset]  # and some far ones fall off an episode


def test_episodes_cut_at_the_horizon_bootstrap_and_start_a_new_trajectory(monkeypatch):
    """With a 7-step horizon, a CartPole episode cut at step 7 is stored non-terminal (disc = γ: the
    target bootstraps from its true next observation) and the next row starts a new trajectory id."""
    monkeypatch.setitem(TASKS, "cartpole", dataclasses.replace(TASKS["cartpole"], horizon=7))
    _, replay, _ = _train()
    n = replay.size
    rows = {k: v[:n] for k, v in (("traj", replay.traj), ("terminal", replay.terminal))}
    starts = np.r_[0, np.flatnonzero(np.diff(rows["traj"].numpy())) + 1]
    lengths = np.diff(np.r_[starts, n])[:-1]  # finished episodes
    assert lengths.max() == 7 and (lengths <= 7).all()
    cut_ends = starts[1:][lengths == 7] - 1  # the last row of each cut episode
    assert len(cut_ends) > 0 and not rows["terminal"][cut_ends].any()
    window = replay.rows()  # the sampled rows: their disc is what the targets use
    inside = torch.as_tensor(cut_ends[cut_ends >= replay.lo] - replay.lo)
    assert len(inside) > 0
    torch.testing.assert_close(window["disc"][inside], torch.full((len(inside),), TINY.gamma))
    # the cut row's s′ is the env's next observation, not the next episode's first one
    assert not torch.equal(replay.s2[cut_ends[0]], replay.s[cut_ends[0] + 1])


def test_ql_targets_by_hand():
    """y = r + γ(1 − terminal) max_a Q_θ̄(s′, a) on a linear Q̄ with known weights (tolerance 1e-6)."""
    q = torch.nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        q.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    rows = {
        "r": torch.tensor([0.5, 1.0]),
        "s2": torch.tensor([[2.0, -3.0], [-1.0, -2.0]]),
        "disc": torch.tensor([0.9, 0.0]),  # the second terminal
    }
    # Q̄(s′) = [2, −3, −1] → max 2; [−1, −2, −3] → max −1 (unused: terminal)
    torch.testing.assert_close(
        ctl.ql_targets(q, rows), torch.tensor([0.5 + 0.9 * 2.0, 1.0]), rtol=0, atol=1e-6
    )


def test_actions_are_greedy_in_the_live_q_at_epsilon_zero(monkeypatch):
    """With ε = 0 throughout, every stored action is argmax_a Q(s, a) of the training network at the moment
    it acted, on the stored state; with ε = 1 about half the actions differ from it (the check can fail)."""
    seen = []
    real = ctl.act

    def spy(net, obs, eps, rng, n_actions):
        with torch.no_grad():
            greedy = int(net(torch.as_tensor(obs, dtype=torch.float32)[None]).argmax(1))
        a = real(net, obs, eps, rng, n_actions)
        seen.append((np.array(obs, np.float32), greedy, a, id(net)))
        return a

    monkeypatch.setattr(ctl, "act", spy)
    cfg = dataclasses.replace(TINY, epsilon=0.0)
    _, replay, net = _train(cfg, eps_start=0.0)
    n = replay.size
    assert len(seen) == n and {s[3] for s in seen} == {id(net)}
    np.testing.assert_array_equal(np.stack([s[0] for s in seen]), replay.s[:n].numpy())
    assert [s[1] for s in seen] == replay.a[:n].tolist() == [s[2] for s in seen]
    # the warm-up's actions (no update yet) equal the initial network's argmax, recomputed apart
    warm = max(TINY.batch, round(ctl.WARMUP * TINY.steps))
    init = TASKS["cartpole"].net(cfg, seeding.derive_seed(0, "init/0"))
    with torch.no_grad():
        q0 = init(replay.s[:warm])
    top2 = q0.topk(2, 1).values
    clear = (top2[:, 0] - top2[:, 1]) > 1e-5  # batched vs one-row argmax may differ only at a near-tie
    assert clear.float().mean() > 0.9
    np.testing.assert_array_equal(q0.argmax(1)[clear].numpy(), replay.a[:warm][clear].numpy())
    seen.clear()
    _train(dataclasses.replace(TINY, epsilon=1.0), eps_start=1.0)
    differ = np.mean([s[1] != s[2] for s in seen])
    assert 0.35 < differ < 0.65  # uniform over 2 actions: ≈ 0.5


def test_epsilon_schedule():
    assert ctl.epsilon_at(-3, 100, 1.0, 0.05) == 1.0  # warm-up
    assert ctl.epsilon_at(50, 100, 1.0, 0.05) == pytest.approx(0.525, abs=1e-12)
    assert ctl.epsilon_at(100, 100, 1.0, 0.05) == pytest.approx(0.05, abs=1e-12)
    assert ctl.epsilon_at(10_000, 100, 1.0, 0.05) == pytest.approx(0.05, abs=1e-12)
    assert ctl.epsilon_at(1, 0, 1.0, 0.05) == 0.05  # no decay: the final ε from the first update


def test_episode_returns_against_the_recursion():
    rows = {
        "traj": torch.tensor([0, 0, 0, 1, 1]),
        "terminal": torch.tensor([False, False, True, False, False]),  # episode 1 unfinished
        "r": torch.tensor([1.0, 2.0, 3.0, 1.0, 1.0]),
    }
    g, mask = ctl.episode_returns(rows, 0.5)
    np.testing.assert_allclose(g[:3].numpy(), [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0], rtol=1e-6)
    assert mask.tolist() == [True, True, True, False, False]


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"eps_start": 1.5}, r"eps_start must be in \[0, 1\], got 1.5"),
        ({"eps_decay": -0.1}, r"eps_decay must be a fraction of steps in \[0, 1\], got -0.1"),
        ({"warmup": 2.0}, r"warmup must be a fraction of steps in \[0, 1\], got 2.0"),
    ],
)
def test_bad_schedule_values_fail_clearly(kw, match):
    with pytest.raises(ValueError, match=match):
        ctl.train_control(TINY, RecordingRun(), 0, {}, **kw)


def test_config_accepts_control_only_on_request():
    with pytest.raises(ValueError, match=r"unknown objective 'kontrol', choose from .*'control'"):
        dataclasses.replace(tg.SMOKE, objectives=("ql", "kontrol"))
    assert "control" not in tg.DEFAULT.objectives  # DEFAULT's stored config is unchanged
    assert dataclasses.replace(tg.SMOKE, objectives=("ql", "control")).arms() == ["ql", "control"]


def test_smoke_with_control_runs_and_reports(tmp_path):
    from replab.launch import start_run
    from replab.track.store import Store

    cfg = dataclasses.replace(tg.SMOKE, objectives=("ql", "control"))
    run_id, _ = start_run("td-gain", cfg, preset="smoke", store=Store(tmp_path / "db"), quiet=True)
    folder = tmp_path / run_id
    res = json.loads((folder / "results.json").read_text())
    assert sorted(res["results"]) == ["control/s0", "control/s1", "ql/s0", "ql/s1"]
    unit = res["results"]["control/s0"]
    assert unit["episodes"] and unit["schedule"]["eps_final"] == cfg.epsilon
    report = (folder / "report.md").read_text()
    assert "## Control vs policy evaluation (Fig 3.8)" in report and "| control |" in report
    assert "control − ql, near gain (Q-learning loss), paired over 2 seed(s)" in report
    assert (folder / "control_episodes.png").stat().st_size > 0
    # the ql arm's units equal a run without control (the control arm draws from its own streams)
    plain = dataclasses.replace(tg.SMOKE, objectives=("ql",))
    other, _ = start_run("td-gain", plain, preset="smoke", store=Store(tmp_path / "db2"), quiet=True)
    base = json.loads((tmp_path / other / "results.json").read_text())["results"]
    for k in ("ql/s0", "ql/s1"):
        for f in ("gain_ql", "gain_own", "cosine", "count"):
            got, want = (np.array(u[k][f], dtype=float) for u in (res["results"], base))  # None → nan
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12, err_msg=f"{k} {f}")


def test_control_on_minatar_breakout_chains_its_episodes():
    """The same arm on `--task minatar` (MinAtar Breakout, the conv net): the replay's frames chain within
    an episode and the probe measures on them."""
    pytest.importorskip("minatar")
    cfg = dataclasses.replace(TINY, task="minatar", steps=60, gain_every=30, gain_positions=4)
    out, replay, _ = _train(cfg)
    n = replay.size
    assert tuple(replay.s.shape[1:]) == (4, 10, 10)
    same = replay.traj[1:n] == replay.traj[: n - 1]
    assert same.any()
    assert torch.equal(replay.s2[: n - 1][same], replay.s[1:n][same])
    assert out["count"][cfg.max_offset] == 2 * cfg.gain_positions
