"""plasticity-nonstationary: config validation, task construction, and the report's checks on known results."""

import copy
import json
import math

import numpy as np
import pytest
import torch

from replab.experiments.plasticity import _tasks as T
from replab.experiments.plasticity._nonstationary_report import decisions, report
from replab.experiments.plasticity.plasticity_nonstationary import SMOKE, Config
from replab.track.claims import from_record


def test_config_validates_names_and_ranges():
    with pytest.raises(ValueError, match="variants"):
        Config(variants=("plain", "dropout"))
    with pytest.raises(ValueError, match="k_tasks"):
        Config(tasks=4, k_tasks=3)
    with pytest.raises(ValueError, match="gcov_examples"):
        Config(n_examples=100, hessian_examples=100, gcov_examples=200)


def test_tasks_are_fresh_targets_and_variants_share_the_plain_initialisation():
    x = T.digits_inputs(50, 0)
    g = torch.Generator().manual_seed(0)
    a, b = T.task_targets("labels", x, g, SMOKE), T.task_targets("labels", x, g, SMOKE)
    assert a.shape == (50,) and not torch.equal(a, b) and int(a.max()) < T.CLASSES
    y = T.task_targets("regression", x, g, SMOKE)
    assert y.shape == (50, 1) and y.abs().max() <= 1
    nets = [T.build_model("labels", v, SMOKE, torch.Generator().manual_seed(3)) for v in ("plain", "sgd")]
    assert all(torch.equal(p, q) for p, q in zip(nets[0].parameters(), nets[1].parameters()))
    ln = T.build_model("labels", "layernorm", SMOKE, torch.Generator().manual_seed(3))
    assert any(isinstance(m, torch.nn.LayerNorm) for m in ln.modules())


def fake_run(task_loss, p, dead, grad, sharp, gcov, chance=2.3):
    n = len(p)
    return {
        "task_loss": task_loss,
        "task_chance": [chance] * len(task_loss),
        "task_grad_norm": [grad[0]] * 3 + [grad[-1]] * 3,
        "tasks_done": list(range(n)),
        "measurements": {
            "probe_loss": [1 + v for v in p],
            "reference_loss": [1.0] * n,
            "plasticity_loss": p,
            "dead_fraction": dead,
            "dead_max_layer": dead,
            "srank": [10] * n,
            "weight_norm": [1.0 + i for i in range(n)],
            "grad_norm": grad,
            "hessian_top": sharp,
            "mean_abs_cos": gcov,
            "top_eig_fraction": gcov,
        },
        "cos_first": [[1.0, 0.0], [0.0, 1.0]],
        "cos_last": [[1.0, 0.5], [0.5, 1.0]],
    }


CONFIG = {
    "k_tasks": 2,
    "rise_ratio": 1.1,
    "ln_factor": 1.1,
    "dead_max": 0.01,
    "grad_growth_max": 10.0,
    "min_rho": 0.3,
    "gcov_statistic": "mean_abs_cos",
    "tasks": 6,
    "steps_per_task": 10,
}


def results(seed=0, plain_rises=True, dead=0.0, ln_scale=1.0):
    """One run (one seed): plain's final loss rises, layer norm's stays low (× ln_scale), the plasticity
    loss rises with sharpness and gradient covariance; small seed-dependent noise."""
    rng = np.random.default_rng(seed)

    def jitter(xs, scale=0.02):
        return [float(x * (1 + scale * rng.standard_normal())) for x in xs]

    rising = [0.1, 0.1, 0.2, 0.4, 0.8, 1.6] if plain_rises else [0.1] * 6
    p = [0.0, 0.3, 0.6, 0.9]
    runs = {
        "plain": fake_run(jitter(rising), p, [dead] * 4, [1.0, 1.2, 1.1, 1.3], jitter([1, 2, 3, 4]),
                          jitter([0.1, 0.2, 0.3, 0.4])),
        "layernorm": fake_run(jitter([0.1 * ln_scale] * 6), [0.0, 0.0, 0.01, 0.02], [0.0] * 4, [1.0] * 4,
                              jitter([1, 1.1, 1.2, 1.3]), jitter([0.1, 0.11, 0.12, 0.13])),
        "sgd": fake_run(jitter([0.5] * 6), [0.0, 0.05, 0.1, 0.2], [0.0] * 4, [1.0] * 4, jitter([1, 1.5, 2.0, 2.5]),
                        jitter([0.1, 0.15, 0.2, 0.25])),
    }  # fmt: skip
    regression = copy.deepcopy(runs)
    for r in regression.values():
        r["task_chance"] = [0.5] * 6
    return {"config": CONFIG, "runs": {"labels": runs, "regression": regression}}


def pooled_claims(runs: list[dict]) -> dict:
    """{claim key: Decision} over the runs' headline records, units re-keyed by run (the ledger's way)."""
    records = {}
    for seed, r in enumerate(runs):
        for d in decisions(json.loads(json.dumps(r))):
            rec = records.setdefault(d.key, d.record() | {"units": []})
            rec["units"] += [[f"{seed}:{u[0]}", *u[1:]] for u in d.record()["units"]]
    return {k: from_record(r) for k, r in records.items()}


def test_claims_hold_on_planted_results_at_five_seeds():
    got = pooled_claims([results(s) for s in range(5)])
    assert set(got) == {"claim", "plain_rise", "dead_units", "grad_norm", "curvature"}
    for key, d in got.items():
        assert d.verdict == "held" and d.n == 5, (key, d.reason)
    rep = report(results(0))  # one run = one seed: nothing decided, everything shown
    assert rep.verdict == "inconclusive" and all(c.verdict == "inconclusive" for c in rep.checks)
    assert rep.summary["labels/layernorm_rank"] == 1.0 and len(rep.figures) == 5
    assert "claim/verdict" in rep.stored_summary()


def test_claims_fail_on_results_that_contradict_them():
    runs = [results(s, plain_rises=False, dead=0.5) for s in range(5)]
    for r in runs:
        for problem in r["runs"].values():
            problem["layernorm"]["task_loss"] = list(problem["plain"]["task_loss"])  # a tie is not a win
            for v in problem.values():  # curvature against the plasticity loss in every run
                v["measurements"]["hessian_top"] = sorted(v["measurements"]["hessian_top"], reverse=True)
                v["measurements"]["mean_abs_cos"] = sorted(v["measurements"]["mean_abs_cos"], reverse=True)
            problem["plain"]["task_grad_norm"] = [1.0] * 3 + [50.0] * 3
    got = pooled_claims(runs)
    for key in ("claim", "plain_rise", "dead_units", "grad_norm", "curvature"):
        assert got[key].verdict == "did not hold", (key, got[key].reason)


def test_claims_are_inconclusive_below_the_floor_or_with_few_seeds():
    # both networks at or above the best constant predictor's loss: layer norm "beats" plain at chance
    runs = [results(s, ln_scale=30.0) for s in range(5)]  # layer norm: 3.0 > 2.3 and > 0.5
    for r in runs:
        for problem in r["runs"].values():
            problem["plain"]["task_loss"] = [5.0] * 6
    d = pooled_claims(runs)["claim"]
    assert d.verdict == "inconclusive" and "floor" in d.reason
    got = pooled_claims([results(s) for s in range(4)])
    assert all(d.verdict == "inconclusive" and d.n == 4 for d in got.values())


def test_chance_loss_is_the_best_constant_predictors():
    y = torch.tensor([0, 0, 1, 1])
    assert T.chance_loss("labels", y) == pytest.approx(math.log(2))
    assert T.chance_loss("regression", torch.tensor([[1.0], [-1.0]])) == pytest.approx(1.0)


def test_results_from_before_the_floor_still_report():
    r = results(0)
    for problem in r["runs"].values():
        for run in problem.values():
            run.pop("task_chance")
    r["config"] = {k: v for k, v in CONFIG.items() if k not in ("ln_factor", "min_rho")}
    got = {d.key: d for d in decisions(r)}
    assert got["claim"].floor is None and got["curvature"].min_effect == 0.3
