"""memorization: Config validation, and the report's decision on constructed results."""

import dataclasses

import pytest

from replab.experiments.bootstrapping import memorization as mem
from replab.experiments.bootstrapping._memorization_report import report


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("conditions", ("real", "nope"), "conditions: unknown condition 'nope'"),
        ("n_train", 5, r"n_train must be in \[10, 1797\]"),
        ("window", 50, r"window must be in \[2, window_every=20\], got 50"),
        ("lr", -1.0, r"lr must be in \(0, 10\]"),
    ],
)
def test_config_rejects_bad_values(field, value, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(mem.SMOKE, **{field: value})


def _results(real, random):
    def unit(g):
        return {
            "steps": [10],
            "gini": [g],
            "final": g,
            "train_accuracy": 1.0,
            "chance": 0.1,
            "per_class": [0.1] * 10,
            "sensitivity_quantiles": [0, 0.1, 0.2, 0.3],
        }

    res = {f"real/{s}": unit(g) for s, g in enumerate(real)} | {
        f"random/{s}": unit(g) for s, g in enumerate(random)
    }
    cfg = dataclasses.asdict(mem.SMOKE) | {"seeds": len(real)}
    return {"config": cfg, "results": res}


def test_report_decides_with_the_shared_rule():
    head = next(c for c in report(_results([0.6, 0.62, 0.61, 0.65, 0.6], [0.3, 0.31, 0.3, 0.32, 0.3])).checks)
    assert head.headline and head.verdict == "held"
    tie = report(_results([0.5] * 5, [0.5] * 5))
    assert next(c for c in tie.checks if c.headline).verdict == "did not hold"
