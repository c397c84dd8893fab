"""plasticity-nonstationary: config validation, task construction, and the report's checks on known results."""

import copy

import pytest
import torch

from replab.experiments.plasticity import _tasks as T
from replab.experiments.plasticity._nonstationary_report import claim1, claim2, claim3, claim4, report
from replab.experiments.plasticity.plasticity_nonstationary import SMOKE, Config


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


def fake_run(task_loss, p, dead, grad, sharp, gcov):
    n = len(p)
    return {
        "task_loss": task_loss,
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
    "lost_margin": 0.1,
    "dead_max": 0.01,
    "grad_growth_max": 10.0,
    "alpha": 0.05,
    "ln_top": 2,
    "gcov_statistic": "mean_abs_cos",
    "tasks": 6,
    "steps_per_task": 10,
}


def results(plain_rises=True, dead=0.0):
    rising = [0.1, 0.1, 0.2, 0.4, 0.8, 1.6] if plain_rises else [0.1] * 6
    p = [0.0, 0.3, 0.6, 0.9]
    runs = {
        "plain": fake_run(rising, p, [dead] * 4, [1.0, 1.2, 1.1, 1.3], [1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4]),
        "layernorm": fake_run(
            [0.1] * 6,
            [0.0, 0.0, 0.01, 0.02],
            [0.0] * 4,
            [1.0] * 4,
            [1, 1.1, 1.2, 1.3],
            [0.1, 0.11, 0.12, 0.13],
        ),
        "sgd": fake_run(
            [0.5] * 6, [0.0, 0.05, 0.1, 0.2], [0.0] * 4, [1.0] * 4, [1, 1.5, 2.0, 2.5], [0.1, 0.15, 0.2, 0.25]
        ),
    }
    return {"config": CONFIG, "runs": {"labels": runs, "regression": copy.deepcopy(runs)}}


def test_report_checks_hold_on_results_that_show_the_claims():
    rep = report(results())
    assert [c.held for c in rep.checks] == [True, True, True, True]
    assert rep.verdict == "held" and rep.summary["labels/layernorm_rank"] == 1.0
    assert len(rep.figures) == 5


def test_report_checks_fail_on_results_that_contradict_them():
    r = results(plain_rises=False, dead=0.5)  # flat plain losses; the plasticity loss comes with dead units
    for problem in ("labels", "regression"):
        r["runs"][problem]["sgd"]["measurements"]["dead_fraction"] = [0.3] * 4
    r["runs"]["labels"]["sgd"]["task_loss"] = [0.01] * 6  # sgd and plain now beat layernorm
    r["runs"]["labels"]["plain"]["task_loss"] = [0.01] * 6
    runs = r["runs"]
    assert claim1(runs, CONFIG)[0].held is False
    assert claim2(runs, CONFIG).held is False
    assert claim4(runs, CONFIG)[0].held is False and claim4(runs, CONFIG)[1] == {"labels": 3, "regression": 2}
    # curvature that moves against the plasticity loss
    for run in runs["regression"].values():
        run["measurements"]["hessian_top"] = run["measurements"]["hessian_top"][::-1]
    assert claim3(runs, CONFIG)[0].held is False
    # nothing lost plasticity: claim 2 cannot be decided
    for variants in runs.values():
        for run in variants.values():
            run["measurements"]["plasticity_loss"] = [0.0] * 4
    assert claim2(runs, CONFIG).held is None
