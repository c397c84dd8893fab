"""crw-ablations: config validation, the variants, and the report's four claims on hand-made results
(the SMOKE run is in tests/test_experiments_smoke.py)."""

import dataclasses

import pytest

from replab.experiments.video._crw_ablations_report import claim_specs, report
from replab.experiments.video.crw_ablations import DEFAULT, SMOKE, variants


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="clips"):
        dataclasses.replace(SMOKE, base_clip=5)
    with pytest.raises(ValueError, match="drops"):
        dataclasses.replace(SMOKE, drops=(0.0, 0.3))
    with pytest.raises(ValueError, match="difficulty"):
        dataclasses.replace(SMOKE, difficulty="brutal")


def test_variants_change_one_factor_from_the_base():
    var = variants(DEFAULT)
    assert list(var) == ["base", "clip2", "clip6", "drop0", "drop0.3", "static"]
    base = var["base"]
    assert base == dict(clip=4, edge_drop=0.1, static=False)
    for name, v in var.items():
        assert sum(v[k] != base[k] for k in base) == (0 if name == "base" else 1), name


def _results(gaps, seeds=6):
    """Hand-made J&F per seed: base 0.6 (+ a per-seed wobble), each other method base − its gap."""
    cfg = dataclasses.asdict(DEFAULT)
    cfg = {
        k: cfg[k]
        for k in (
            "seeds",
            "steps",
            "batch",
            "size",
            "difficulty",
            "tau",
            "base_clip",
            "clips",
            "base_drop",
            "drops",
            "prop_k",
            "prop_m",
            "prop_radius",
            "tta_window",
            "tta_every",
            "tta_steps",
            "tta_lr",
            "min_effect",
            "tta_min_effect",
            "train_videos",
            "test_videos",
            "video_frames",
        )
    }
    var = variants(DEFAULT)

    def scores(s):
        base = 0.6 + 0.01 * s
        vals = {"base": base, "copy_first": 0.3, "pixels": 0.8, "random_init": 0.3}
        vals |= {m: base - gaps.get(m, 0.0) for m in var if m != "base"}
        vals["base+tta"] = base + gaps.get("tta", 0.0)
        fields = ("J", "F", "J&F", "J_recall", "PCK@0.1", "PCK@0.2")
        return {m: {f: v for f in fields} for m, v in vals.items()}

    res = {str(s): {"scores": scores(s), "final_loss": {n: 1.0 for n in var}} for s in range(seeds)}
    return {"config": cfg, "variants": var, "results": res, "strip": None}


def test_report_decides_each_ablation_by_the_shared_rule():
    assert [s[0] for s in claim_specs(_results({})["config"])] == ["path", "dropout", "moving", "tta"]
    held = report(_results({"clip2": 0.1, "drop0": 0.1, "static": 0.1, "tta": 0.05}))
    assert held.verdict == "held" and {c.verdict for c in held.checks} == {"held"}
    flat = report(_results({"clip2": 0.0, "drop0": 0.1, "static": 0.1, "tta": 0.05}))
    assert flat.verdict == "partly held"
    assert [c.verdict for c in flat.checks][0] == "did not hold"  # no path-length effect: a tie loses
    assert report(_results({"clip2": 0.1, "drop0": 0.1, "static": 0.1, "tta": 0.05}, seeds=2)).verdict == (
        "inconclusive"
    )
    assert report(_results({})).summary["path/verdict"] == -1
