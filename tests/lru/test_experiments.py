"""The LRU experiments resume from their checkpoint, skipping finished units, and report on partial seeds."""

import pytest

from replab.experiments.lru import _config as _lru_config
from replab.experiments.lru import _tasks as _lru_tasks
from replab.experiments.lru import lru_ladder, lru_length
from replab.track.run import Run
from replab.track.store import Store


def _run(tmp_path, name):
    store = Store(tmp_path / "replab.db")
    store.create_run("r1", name, "smoke", {}, 0, None)
    return Run(store, "r1", seed=0, quiet=True, tensorboard=False)


def test_ladder_resumes_without_retraining_finished_rungs(tmp_path, monkeypatch):
    cfg = lru_ladder.Config(
        tasks=("digits",),
        rungs=("tanh_rnn", "lru"),
        seeds=1,
        steps=(3,),
        batch=(4,),
        d_model=4,
        d_state=4,
        n_layers=1,
        n_test=16,
    )
    run = _run(tmp_path, "lru-ladder")
    first = lru_ladder.run(cfg, run)
    assert set(first["results"]) == {"digits/tanh_rnn/0", "digits/lru/0"}
    state = run.load_checkpoint()
    del state["done"]["digits/lru/0"]  # as if killed before the last rung finished
    run.save_checkpoint(state)
    calls = []
    real_train = _lru_tasks.train

    def counting_train(model, task, **kw):
        calls.append(type(model.layers[0].recurrence).__name__)
        return real_train(model, task, **kw)

    monkeypatch.setattr(_lru_config, "train", counting_train)
    second = lru_ladder.run(cfg, run)
    assert calls == ["LRU"]  # only the unfinished rung was trained again
    assert second["results"]["digits/tanh_rnn/0"] == first["results"]["digits/tanh_rnn/0"]
    rep = lru_ladder.report(second)
    assert rep.verdict in ("held", "partly held", "did not hold", "inconclusive")
    assert "digits/lru/accuracy" in rep.summary


def test_length_baseline_matches_parameter_count(tmp_path):
    cfg = lru_length.Config(lengths=(16,), steps=2, batch=4, d_model=16, d_state=16, n_layers=2, n_test=8)
    import numpy as np
    import torch

    task = _lru_tasks.make_task("adding", np.random.default_rng(0), length=16, n_test=8)
    lru = lru_length.build(cfg, "lru", task, torch.Generator().manual_seed(0))
    n = sum(p.numel() for p in lru.parameters())
    for cell in ("gru", "lstm"):
        base = lru_length.build(cfg, cell, task, None)
        assert abs(sum(p.numel() for p in base.parameters()) - n) / n < 0.05
        assert base(task.test[0][0]).shape == (8, 1)


def test_max_seconds_caps_the_steps_and_reports_them():
    import numpy as np

    task = _lru_tasks.make_task("adding", np.random.default_rng(0), length=64, n_test=8)
    cfg = lru_length.Config(lengths=(64,), d_model=8, d_state=8, n_layers=1)
    model = lru_length.build(cfg, "gru", task, None)
    kw = dict(steps=10_000, batch=4, lr=1e-3, weight_decay=0.0, ssm_lr_factor=0.5, warmup_frac=0.1)
    out = _lru_tasks.train(model, task, rng=np.random.default_rng(1), max_seconds=0.3, **kw)
    assert 1 <= out["steps"] < 10_000 and 0.3 <= out["train_seconds"] < 5.0
    # the time-based schedule: warm-up, peak at the end of warm-up, cosine decay to ≈ 0 at the end
    assert _lru_tasks.schedule_at(0.05, 0.1) == pytest.approx(0.5)
    assert _lru_tasks.schedule_at(0.1, 0.1) == pytest.approx(1.0)
    assert _lru_tasks.schedule_at(0.55, 0.1) == pytest.approx(0.5, abs=1e-3)
    assert _lru_tasks.schedule_at(1.0, 0.1) == pytest.approx(1e-3)
    uncapped = _lru_tasks.train(model, task, rng=np.random.default_rng(1), **{**kw, "steps": 3})
    assert uncapped["steps"] == 3


def test_configs_validate():
    with pytest.raises(ValueError, match="max_train_seconds"):
        lru_length.Config(max_train_seconds=-1.0)
    with pytest.raises(ValueError, match="tasks"):
        lru_ladder.Config(tasks=("cifar",))
    with pytest.raises(ValueError, match="steps"):
        lru_ladder.Config(steps=(1, 2))
    with pytest.raises(ValueError, match="models"):
        lru_length.Config(models=("transformer",))


@pytest.mark.parametrize("name", ["lru", "gru"])
def test_the_health_monitor_changes_no_training_result(name):
    """The monitor reads the decoder's input (B, H) and leaves training as it was; its time is not counted."""
    import numpy as np
    import torch

    from replab.probe.health import health_monitor
    from replab.probe.monitor import ProbeLog

    task = _lru_tasks.make_task("selective_copy", np.random.default_rng(0), length=16, n_test=8)
    cfg = lru_length.Config(lengths=(16,), d_model=8, d_state=8, n_layers=1, probe_every=2, probe_batch=6)
    kw = dict(steps=5, batch=4, lr=1e-2, weight_decay=0.0, ssm_lr_factor=0.5, warmup_frac=0.1)
    outs, logs = [], []
    for watch in (False, True):
        torch.manual_seed(0)
        model = lru_length.build(cfg, name, task, torch.Generator().manual_seed(0))
        log = ProbeLog()
        readout = _lru_tasks.Readout(model)
        assert readout(task.test[0][0][:6]).shape[0] == 6 and readout(task.test[0][0]).dim() == 2
        monitor = health_monitor(cfg, readout, task.test[0][0], log, arm="a") if watch else None
        out = _lru_tasks.train(model, task, rng=np.random.default_rng(1), monitor=monitor, **kw)
        outs.append({k: v for k, v in out.items() if k not in ("train_seconds", "seconds_per_step")})
        logs.append(log.rows)
    assert outs[0] == outs[1] and not logs[0]
    assert [s for s, _ in logs[1]] == [2, 4] and "probe/srank/a/features" in logs[1][0][1]
