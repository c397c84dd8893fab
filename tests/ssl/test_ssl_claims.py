"""The SSL experiments' claims on planted results: a clear effect at 5 seeds holds, no effect does not, a
method below its floor and fewer than 5 seeds are inconclusive (no training here)."""

import numpy as np
import pytest

from replab.experiments.ssl import _botnet_report, _cpc_report, _semppl_report, cpc_data_efficiency, semppl
from replab.experiments.ssl import botnet as botnet_exp
from replab.track.claims import from_record


def _headline(checks):
    (head,) = [c for c in checks if c.headline]
    return head


# -- cpc-data-efficiency: one unit per run (its encoder), decided over the runs of a sweep ------------


def cpc_run(seed=0, cpc=0.80, pixel=0.60, floor=0.40, label_seeds=3, fractions=(0.01, 0.1, 1.0), noise=0.01):
    """Planted results of one run: CPC / pixel / random-probe accuracies at every fraction (the gap at
    the larger fractions is a fifth of the smallest's), ±noise per label subset."""
    rng = np.random.default_rng(seed)
    units = []
    for f in fractions:
        shrink = 1.0 if f == min(fractions) else 0.2
        for s in range(label_seeds):
            units.append(
                {
                    "fraction": f,
                    "seed": s,
                    "n_labelled": 10,
                    "steps": 100,
                    "pixel": pixel + noise * rng.standard_normal(),
                    "cpc_frozen": pixel,
                    "cpc": pixel + shrink * (cpc - pixel) + noise * rng.standard_normal(),
                    "random_probe": floor + noise * rng.standard_normal(),
                }
            )
    return {
        "fractions": list(fractions),
        "units": units,
        "probes": {"cpc_raw": 0.9, "cpc_ema": 0.9, "random": 0.8, "pixels": 0.85},
        "classes": 10,
        "min_effect_share": cpc_data_efficiency.Config().min_effect_share,
    }


def pooled(records: list[dict]):
    """What the ledger does with a sweep: units keyed by (run seed : seed), decided once."""
    units = [[f"{run}:{u[0]}", *u[1:]] for run, rec in enumerate(records) for u in rec["units"]]
    return from_record(records[0], units)


def _cpc_records(n, **kw):
    return [_headline(_cpc_report.decide(cpc_run(seed=i, **kw))).claim for i in range(n)]


def test_cpc_one_run_is_one_unit():
    head = _headline(_cpc_report.decide(cpc_run()))
    assert head.verdict == "inconclusive" and head.n == 1
    assert len(head.claim["units"]) == 1 and head.claim["min_effect"] == pytest.approx(0.148)


def test_cpc_sweep_planted_effect_holds_none_does_not_floor_and_few_seeds():
    assert pooled(_cpc_records(5)).verdict == "held"  # +20 points > 14.8
    assert pooled(_cpc_records(5, cpc=0.61)).verdict == "did not hold"
    assert pooled(_cpc_records(5, cpc=0.70)).verdict == "did not hold"  # +10 points: under half Table 2.2's
    below = pooled(_cpc_records(5, floor=0.9))
    assert below.verdict == "inconclusive" and "floor" in below.reason
    assert pooled(_cpc_records(3)).verdict == "inconclusive"


def test_cpc_per_fraction_checks_are_across_label_subsets():
    checks = _cpc_report.decide(cpc_run(label_seeds=5, noise=0.002))
    by = {c.name: c for c in checks if not c.headline}
    at_1pct = [c for n, c in by.items() if "at 1% labels" in n][0]
    at_100 = [c for n, c in by.items() if "at 100% labels" in n][0]
    assert at_1pct.verdict == "held" and at_1pct.n == 5
    assert at_100.verdict == "held"  # +4 points > 0.5 × 3.2
    shrink = [c for n, c in by.items() if "larger at" in n][0]
    assert shrink.verdict == "held"  # 16 points > 0.5 × 26.4
    few = [c for c in _cpc_report.decide(cpc_run(label_seeds=3)) if not c.headline]
    assert all(c.verdict == "inconclusive" for c in few)


def test_cpc_paper_gap_interpolates_table_2_2():
    assert _cpc_report.paper_gap(0.01) == pytest.approx(0.296)
    assert _cpc_report.paper_gap(1.0) == pytest.approx(0.032)
    assert 0.032 < _cpc_report.paper_gap(0.3) < 0.064


def test_cpc_old_results_fall_back_to_chance():
    res = cpc_run()
    for u in res["units"]:
        del u["random_probe"]
    head = _headline(_cpc_report.decide(res))
    assert head.claim["floor"] == "chance" and head.claim["units"][0][4] == pytest.approx(0.1)


# -- semppl ------------------------------------------------------------------------------------------


def semppl_results(seeds=5, gains=None, fractions=(0.01, 0.1), noise=0.005):
    """Planted probe accuracies per (arm, fraction, seed)."""
    means = {"supervised": 0.60, "infonce": 0.62, "semppl": 0.70, "semppl-oracle": 0.75} | (gains or {})
    rng = np.random.default_rng(3)
    units = [
        {"arm": a, "fraction": f, "seed": s, "probe_acc": v + noise * rng.standard_normal(), "n_labelled": 14}
        for f in fractions
        for s in range(seeds)
        for a, v in means.items()
    ]
    return {
        "fractions": list(fractions),
        "arms": list(means),
        "units": units,
        "n_train": 1437,
        "n_test": 360,
        "classes": 10,
        "min_effect": semppl.Config().min_effect,
    }


def test_semppl_planted_effects():
    head = _headline(_semppl_report.decide(semppl_results()))
    assert head.verdict == "held" and head.n == 5 and head.claim["floor"] == "supervised only"
    assert len(head.claim["units"]) == 10  # 5 seeds × 2 fractions
    assert _headline(_semppl_report.decide(semppl_results(gains={"semppl": 0.62}))).verdict == "did not hold"
    # +0.001 (the old sign-only check passed on this) is not an effect of 3 points
    small = _headline(_semppl_report.decide(semppl_results(gains={"semppl": 0.621}, noise=0.0005)))
    assert small.verdict == "did not hold"
    below = _headline(_semppl_report.decide(semppl_results(gains={"supervised": 0.75})))
    assert below.verdict == "inconclusive" and "floor" in below.measured
    assert _headline(_semppl_report.decide(semppl_results(seeds=3))).verdict == "inconclusive"


def test_semppl_without_the_supervised_arm_uses_chance():
    res = semppl_results()
    res["arms"].remove("supervised")
    res["units"] = [u for u in res["units"] if u["arm"] != "supervised"]
    head = _headline(_semppl_report.decide(res))
    assert head.verdict == "held" and head.claim["floor"].startswith("chance")


# -- botnet ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def counts():
    return botnet_exp.counts(1024)


def botnet_results(counts, seeds=5, accs=None):
    accs = {"resnet": 0.95, "bot": 0.88, "bot-qk": 0.84, "bot-qr": 0.90, "bot-abs": 0.84} | (accs or {})
    rng = np.random.default_rng(4)
    units = [
        {
            "model": m,
            "seed": s,
            "test_acc": a + 0.005 * rng.standard_normal(),
            "train_acc": 0.99,
            "params": 1000,
            "macs": 10**6,
            "position_params": 0,
            "sec_per_step": 0.1,
            "losses": [],
        }
        for s in range(seeds)
        for m, a in accs.items()
    ]
    return {
        "count_size": 1024,
        "count_classifier": False,
        "paper_digits": "truncate",
        "counts": counts,
        "units": units,
        "steps": 1000,
        "models": list(accs),
        "task": "add",
        "background": "clean",
        "optimizer": "sgd",
        "lr": 0.05,
        "min_effect": botnet_exp.Config().min_effect,
    }


def test_botnet_planted_ablations(counts):
    rep = _botnet_report.report(botnet_results(counts))
    head = _headline(rep.checks)
    assert head.name.startswith("qrᵀ_rel only beats qkᵀ only") and head.verdict == "held"
    by = {c.name: c for c in rep.checks}
    assert by["mini BoT beats mini ResNet at equal budget (Table 5.5 direction)"].verdict == "did not hold"
    assert by["relative beats absolute position (qkᵀ + qrᵀ_rel vs qkᵀ + qrᵀ_abs)"].verdict == "held"
    tie = botnet_results(counts, accs={"bot-qr": 0.84})
    assert _headline(_botnet_report.decide(tie)).verdict == "did not hold"  # a tie is not a win
    chance = botnet_results(counts, accs={"bot-qr": 0.13, "bot-qk": 0.10})
    below = _headline(_botnet_report.decide(chance))
    assert below.verdict == "inconclusive" and "floor" in below.measured
    assert _headline(_botnet_report.decide(botnet_results(counts, seeds=2))).verdict == "inconclusive"


def test_botnet_count_checks_are_known_answers_that_can_fail(counts):
    ok = _botnet_report.report(botnet_results(counts, seeds=2))
    known = [c for c in ok.checks if not c.rule]
    assert len(known) == 3 and all(c.held for c in known)
    wrong = [dict(r) for r in counts]
    wrong[0]["params"] += 200_000  # R50 printed as 25.7 M instead of 25.5 M
    wrong[1]["macs"] += 10**8  # BoT50 one decimal off
    bad = _botnet_report.report(botnet_results(wrong, seeds=2))
    assert [c.held for c in bad.checks if not c.rule][:2] == [False, False]
