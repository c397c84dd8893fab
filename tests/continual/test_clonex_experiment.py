"""The clonex report decides its claims from the CW metrics of planted curves (hand-computed effects), and the
Config refuses bad values with the fix named. (The SMOKE preset runs in tests/test_experiments_smoke.py.)"""

import dataclasses

import pytest

from replab.experiments.continual._clonex_report import decisions, metrics, report
from replab.experiments.continual.clonex import SMOKE, Config

NAMES = ["T1", "T2", "T3"]


def seq(method, seed, success, chosen=()):
    return {"method": method, "task": None, "seed": seed, "chosen_heads": list(chosen),
            "curve": {"steps": [1, 2, 3, 4, 5, 6], "success": success, "returns": success},
            "random_success": [0.0, 0.0, 0.0] if method == "finetune" else None}  # fmt: skip


def ref(task, seed):
    return {"method": "reference", "task": task, "seed": seed, "curve": {"steps": [1, 2], "success": [[0.2], [0.4]]},
            "random_success": None}  # fmt: skip


def results(seeds=5):
    done = {}
    for s in range(seeds):
        # rows: evaluation steps 1..6 (Δ = 2), columns: tasks
        ft = [[0.5, 0, 0], [1.0, 0, 0], [0.6, 0.5, 0], [0.2, 0.9, 0], [0.1, 0.5, 0.5], [0.0, 0.2, 1.0]]
        bc = [[0.5, 0, 0], [1.0, 0, 0], [1.0, 0.6, 0], [0.9, 1.0, 0], [0.9, 0.7, 0.5], [0.9, 1.0, 1.0]]
        reg = [[0.5, 0, 0], [1.0, 0, 0], [1.0, 0.3, 0], [0.9, 0.5, 0], [0.9, 0.7, 0.3], [0.9, 1.0, 0.5]]
        cx = [[0.5, 0, 0], [1.0, 0, 0], [1.0, 0.9, 0], [0.9, 1.0, 0], [0.9, 1.0, 0.8], [0.9, 1.0, 1.0]]
        for m, c in (("finetune", ft), ("actor_bc", bc), ("bc_critic_reg", reg), ("clonex", cx)):
            done[f"{m}/s{s}"] = seq(m, s, c, chosen=(0, 1) if m == "clonex" else ())
        for t in range(3):
            done[f"reference/t{t}/s{s}"] = ref(t, s)
    cfg = dataclasses.asdict(Config(task_steps=2, eval_every=1, update_after=0, start_steps=0))
    return {"config": cfg | {"task_names": NAMES, "methods": list(cfg["methods"]), "related_tasks": [1, 2]},
            "done": done}  # fmt: skip


def test_metrics_and_decisions_match_hand_computation():
    r = results()
    m, floor = metrics(r)
    # forgetting with window 1: F_i = p_i(end of task i) − p_i(T); finetune: (1.0 − 0.0 + 0.9 − 0.2 + 0) / 3
    assert m["finetune"][0]["forgetting"] == pytest.approx((1.0 + 0.7 + 0.0) / 3)
    assert m["actor_bc"][0]["forgetting"] == pytest.approx((0.1 + 0.0 + 0.0) / 3)
    # AUC^b = 0.3 for every task; actor_bc's AUC on T2 = (0.6 + 1.0) / 2, FT = (0.8 − 0.3) / 0.7
    assert m["actor_bc"][0]["ft_per_task"][1] == pytest.approx(0.5 / 0.7)
    d = {x.key: x for x in decisions(r, m, floor)}
    assert d["claim"].effect == pytest.approx(0.1 / 3 - 0.5 * 1.7 / 3) and d["claim"].verdict == "held"
    ft_bc, ft_reg = m["actor_bc"][0]["forward_transfer"], m["bc_critic_reg"][0]["forward_transfer"]
    assert d["critic_ft"].effect == pytest.approx(ft_reg - ft_bc) and d["critic_ft"].verdict == "held"
    # ClonEx's AUC on T2: (0.9 + 1.0) / 2 vs 0.8; on T3: (0.8 + 1.0) / 2 vs 0.75
    assert d["best_return"].effect == pytest.approx(((0.95 - 0.8) + (0.9 - 0.75)) / 2)
    assert d["best_return"].verdict == "held"
    rep = report(r)
    assert rep.summary["finetune/forgetting"] == pytest.approx(1.7 / 3) and len(rep.figures) == 2


def test_an_actor_that_never_learns_does_not_clear_the_forgetting_claims_floor():
    r = results()
    for s in range(5):  # actor-BC at zero success everywhere: no forgetting, and no learning either
        r["done"][f"actor_bc/s{s}"]["curve"]["success"] = [[0.0, 0.0, 0.0]] * 6
    m, floor = metrics(r)
    d = {x.key: x for x in decisions(r, m, floor)}
    assert d["claim"].verdict == "held"  # forgetting 0 < half of fine-tuning's: true but empty
    assert d["claim_floor"].verdict != "held"  # ties (0 vs the random policy's 0) are not wins


def test_few_seeds_are_inconclusive_and_bad_config_is_refused():
    r = results(seeds=2)
    m, floor = metrics(r)
    assert {x.verdict for x in decisions(r, m, floor)} == {"inconclusive"}
    with pytest.raises(ValueError, match="must divide task_steps"):
        dataclasses.replace(SMOKE, eval_every=30)
    with pytest.raises(ValueError, match="related_tasks"):
        dataclasses.replace(SMOKE, related_tasks=(0,))
    with pytest.raises(ValueError, match="methods"):
        dataclasses.replace(SMOKE, methods=("packnet",))
