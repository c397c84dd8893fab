"""The `minatar` setting of `corrected-momentum` (thesis Fig 4.16 scaled to MinAtar Breakout): the small conv
value model, the expert-buffer stream, per-example TD terms through convolutions, a run end to end, and the
report's decision on constructed results.

Tolerance: float32 per-example gradients by `torch.func.vmap` against per-example autograd: rtol 1e-5 /
atol 1e-6 (as `test_corrected_momentum.py`).
"""

import dataclasses
import json

import numpy as np
import pytest
import torch

from replab.experiments.bootstrapping import _corrected_momentum_minatar as MA
from replab.experiments.bootstrapping import corrected_momentum as cm
from replab.optim import td_terms

TOL = dict(rtol=1e-5, atol=1e-6)


def test_conv_model_keeps_the_thesis_structure():
    """§4.3.3.8's small model: stride-2 3×3 convolutions take 84 → 42 → 21 → 11 → 6 and the head's kernel is
    6 (the whole map); on 10×10, two take 10 → 5 → 3 and the head's kernel is 3."""
    assert MA.conv_sizes(4, 84) == [84, 42, 21, 11, 6]
    assert MA.conv_sizes(2) == [10, 5, 3]
    net = MA.conv_value_net(MA.CHANNELS, 16, 2, seed=0)
    # 4·16·9+16 + 16·16·9+16 + 16·9+1
    assert sum(p.numel() for p in net.parameters()) == 592 + 2320 + 145
    assert net[4].kernel_size == (3, 3)
    assert net(torch.zeros(5, 4, 10, 10)).shape == (5, 1)
    same = MA.conv_value_net(MA.CHANNELS, 16, 2, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), same.parameters()))
    bound = 1 / (4 * 9) ** 0.5  # PyTorch's default U(±1/√fan_in) for the first conv
    assert net[0].weight.abs().max() <= bound and net[0].weight.abs().max() > 0.9 * bound
    with pytest.raises(ValueError, match="depth must be >= 1"):
        MA.conv_value_net(4, 16, 0, seed=0)


def test_td_terms_through_the_conv_model_match_per_example_autograd():
    net = MA.conv_value_net(MA.CHANNELS, 4, 2, seed=1)
    g = torch.Generator().manual_seed(0)
    s = (torch.rand(3, 4, 10, 10, generator=g) > 0.8).float()
    s2 = (torch.rand(3, 4, 10, 10, generator=g) > 0.8).float()
    r, disc = torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.99, 0.99, 0.0])
    terms = td_terms(net, s, r, s2, disc)
    params = list(net.parameters())
    for i in range(3):
        b = torch.cat([x.reshape(-1) for x in torch.autograd.grad(net(s[i : i + 1]).sum(), params)])
        bp = torch.cat([x.reshape(-1) for x in torch.autograd.grad(net(s2[i : i + 1]).sum(), params)])
        torch.testing.assert_close(terms.b[i], b, **TOL)
        torch.testing.assert_close(terms.a[i], b - disc[i] * bp, **TOL)


def test_buffer_stream_draws_rows_of_the_expert_buffer():
    buf, ex, ey, _ = MA.expert_data(300, 50, np.random.default_rng(0), np.random.default_rng(1), 0.99)
    assert ex.shape == (50, 4, 10, 10) and ey.shape == (50,)
    np.testing.assert_allclose(buf["discount"], 0.99 * (1 - buf["terminal"]), rtol=1e-7)
    s, r, s2, disc = next(MA.buffer_batches(buf, 8, np.random.default_rng(2)))
    assert s.shape == (8, 4, 10, 10) and s.dtype == torch.float32
    for k in range(8):  # each row is one stored transition: (s, r, s′, discount) kept together
        j = int(np.flatnonzero((buf["obs"] == s[k].numpy()).all((1, 2, 3)) & (buf["reward"] == r[k].item())
                               & (buf["next_obs"] == s2[k].numpy()).all((1, 2, 3)))[0])  # fmt: skip
        assert buf["discount"][j] == pytest.approx(disc[k].item())


def test_eval_set_description_counts_episodes_and_states_seen_in_training(monkeypatch):
    """`eval_set` against a brute-force count on hand-made buffers: 3 of 4 evaluation states occur among the
    training states (one of them twice), from 2 episodes."""
    s = np.zeros((6, 4, 10, 10), np.float32)
    for i in range(6):
        s[i, 0, 9, i] = 1  # six distinct states (the paddle's column)
    bufs = {
        7: dict(obs=s[:4], traj=np.array([0, 0, 1, 1]), terminal=np.zeros(4, bool)),
        8: dict(obs=s[[1, 2, 5, 1]], traj=np.array([0, 0, 0, 1]), returns=np.arange(4, dtype=np.float32)),
    }
    monkeypatch.setattr(MA, "collect", lambda n, seed, gamma: dict(bufs[seed]))
    rng_data, rng_eval = np.random.default_rng(0), np.random.default_rng(1)
    seeds = (int(np.random.default_rng(0).integers(2**31)), int(np.random.default_rng(1).integers(2**31)))
    bufs = {seeds[0]: bufs[7], seeds[1]: bufs[8]}
    _, ex, ey, info = MA.expert_data(4, 4, rng_data, rng_eval, 0.99)
    brute = np.mean([any((e.numpy() == t).all() for t in s[:4]) for e in ex])
    assert brute == 0.75 and info == {"episodes": 2, "in_training_buffer": 0.75}
    assert ey.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_expert_data_draws_the_evaluation_collection_from_another_stream(monkeypatch, tmp_path):
    """A run's two collections (training buffer, evaluation states) take their seeds from the run's two
    named streams ('minatar-buffer', 'evaluation'), so they are different episodes."""
    from replab.launch import start_run
    from replab.track.store import Store

    calls, real = [], MA.collect
    monkeypatch.setattr(
        MA, "collect", lambda n, seed, gamma: calls.append((n, seed)) or real(n, seed, gamma=gamma)
    )
    cfg = dataclasses.replace(
        cm.SMOKE, setting="minatar", methods=("momentum",), seeds=1, steps=2, eval_every=2, probe_every=2,
        n_eval=40, minatar_buffer=120, hidden=2,
    )  # fmt: skip
    run_id, _ = start_run(
        "corrected-momentum", cfg, preset="smoke", store=Store(tmp_path / "r.db"), quiet=True
    )
    (n_train, seed_train), (n_eval, seed_eval) = calls
    assert (n_train, n_eval) == (120, 40) and seed_train != seed_eval
    from replab import seeding

    seed = Store(tmp_path / "r.db").get_run(run_id).seed  # the seeds are the first draws of the named streams
    assert seed_train == int(seeding.rng(seed, "minatar-buffer").integers(2**31))
    assert seed_eval == int(seeding.rng(seed, "evaluation").integers(2**31))
    info = json.loads((tmp_path / run_id / "results.json").read_text())["eval_set"]
    assert 1 <= info["episodes"] <= 40 and 0 <= info["in_training_buffer"] <= 1
    report = (tmp_path / run_id / "report.md").read_text()
    assert f"from {info['episodes']} episode(s)" in report


def test_minatar_setting_defaults_and_validation():
    r = dataclasses.replace(cm.DEFAULT, setting="minatar").resolved()
    assert (r.gamma, r.batch, r.beta, r.depth, r.steps) == (0.99, 32, 0.9, 2, 2000)
    assert r.methods == ("momentum", "corrected", "corrected_diag", "adam")
    assert cm.DEFAULT.resolved().gamma == 0.95  # Mountain Car keeps its γ
    with pytest.raises(ValueError, match="not for --setting minatar"):
        dataclasses.replace(cm.DEFAULT, setting="minatar", methods=("momentum", "bottom"))
    with pytest.raises(ValueError, match="minatar_buffer must be >= 1"):
        dataclasses.replace(cm.DEFAULT, setting="minatar", minatar_buffer=0)


def test_minatar_runs_end_to_end(tmp_path):
    from replab.launch import start_run
    from replab.track.store import Store

    cfg = dataclasses.replace(
        cm.SMOKE, setting="minatar", methods=("momentum", "corrected", "adam", "adaptive_full"), seeds=1,
        steps=6, eval_every=3, probe_every=3, n_eval=60, minatar_buffer=200, hidden=4,
    )  # fmt: skip
    run_id, verdict = start_run(
        "corrected-momentum", cfg, preset="smoke", store=Store(tmp_path / "r.db"), quiet=True
    )
    assert verdict == "inconclusive"  # one seed decides nothing
    results = json.loads((tmp_path / run_id / "results.json").read_text())
    assert set(results["results"]) == {f"{m}/0" for m in cfg.methods}
    assert results["config"]["gamma"] == 0.99 and results["config"]["minatar_buffer"] == 200
    unit = results["results"]["corrected/0"]
    assert unit["steps"] == [0, 3, 6] and len(unit["drift"]) == 2
    # every method starts from the same network: the same MSE before the first update
    assert len({u["mse"][0] for u in results["results"].values()}) == 1
    assert results["constant_mse"] > 0
    assert (tmp_path / run_id / "mse.png").stat().st_size > 0


def _unit(final):
    return {"steps": [0, 10], "mse": [12.0, final], "final": final, "diverged": False,
            "drift": [0.01], "mean_drift": 0.01, "cpu_seconds_per_step": 1e-3}  # fmt: skip


def _results(corrected, momentum, adam, floor=10.0):
    res = {}
    for s in range(len(corrected)):
        res[f"corrected/{s}"], res[f"momentum/{s}"] = _unit(corrected[s]), _unit(momentum[s])
        res[f"adam/{s}"] = _unit(adam[s])
    cfg = dataclasses.asdict(cm.SMOKE) | {
        "setting": "minatar",
        "methods": ["momentum", "corrected", "adam"],
        "seeds": len(corrected),
        "minatar_buffer": 20000,
    }
    return {"config": cfg, "constant_mse": floor, "results": res}


def test_minatar_report_decides_with_the_shared_rule():
    good, base = [3.0, 3.2, 3.1, 2.9, 3.3], [4.0, 4.4, 4.1, 4.2, 4.5]
    rep = cm.report(_results(good, base, base))
    head = next(c for c in rep.checks if c.headline)
    assert head.verdict == "held" and "MinAtar" in head.name
    vs_adam = next(c for c in rep.checks if "beats Adam" in c.name)
    assert vs_adam.verdict == "held" and not vs_adam.headline
    tie = cm.report(_results(base, base, good))  # ties are not wins; Adam ahead: μ̂ does not beat it
    assert next(c for c in tie.checks if c.headline).verdict == "did not hold"
    assert next(c for c in tie.checks if "beats Adam" in c.name).verdict == "did not hold"
    stuck = cm.report(_results(good, base, base, floor=2.0))  # nothing beat the best constant predictor
    assert next(c for c in stuck.checks if c.headline).verdict == "inconclusive"


def test_fig_4_16s_pair_is_decided_without_the_headline_methods():
    """A run of the Adam-like arms only (`--methods adaptive_diag adaptive_full adam`): the headline needs μ̂
    and μ and says so; μ̂_diag/√(∇²+ε) over Adam — Fig 4.16's comparison — is decided by the shared rule."""
    good, base = [3.0, 3.2, 3.1, 2.9, 3.3], [4.0, 4.4, 4.1, 4.2, 4.5]
    res = _results(good, base, base)
    res["results"] = {
        f"{m}/{s}": _unit(v[s])
        for m, v in (("adaptive_diag", good), ("adaptive_full", base), ("adam", base))
        for s in range(5)
    }
    res["config"]["methods"] = ["adaptive_diag", "adaptive_full", "adam"]
    rep = cm.report(res)
    head = next(c for c in rep.checks if "MinAtar" in c.name)
    assert head.held is None and "needs the corrected and momentum methods" in head.measured
    diag = next(c for c in rep.checks if c.name == "μ̂_diag/√(∇²+ε) beats Adam")
    assert diag.verdict == "held" and not diag.headline
    full = next(c for c in rep.checks if c.name == "μ̂/√(∇²+ε) (full ζ) beats Adam")
    assert full.verdict == "did not hold"  # a tie is not a win
