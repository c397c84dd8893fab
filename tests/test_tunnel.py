import json

import numpy as np
import pytest
import torch

from replab.data.digits import load_digits
from replab.data.glyphs import load_glyphs, make_glyphs
from replab.experiments.tunnel._analysis import capacity, decisions, tunnel_stats
from replab.experiments.tunnel._report import report
from replab.experiments.tunnel.tunnel import Config, init_ranks, parse_model
from replab.nn.deep import DeepCNN, DeepMLP, layer_names
from replab.track.claims import from_record


def curve(acc, rank, dim=128):
    return [
        {"layer": f"layer{i:02d}", "dim": dim, "probe_acc": a, "numerical_rank": r, "srank": r}
        for i, (a, r) in enumerate(zip(acc, rank), 1)
    ]


def test_tunnel_split_on_a_hand_made_curve():
    rows = curve([0.5, 0.8, 0.90, 0.91, 0.92, 0.915], [40, 60, 50, 20, 12, 10], dim=64)
    s = tunnel_stats(rows, saturation_tol=0.02)
    assert s["saturation_layer"] == 3 and s["tunnel_length"] == 3  # 0.90 >= 0.92 - 0.02
    assert s["tunnel_fraction"] == 0.5 and s["first_two_thirds_acc"] == 0.91  # layers 1-4
    assert s["peak_rank"] == 60 and s["last_rank"] == 10 and s["rank_ratio"] == 10 / 60
    assert tunnel_stats(rows, saturation_tol=0.005)["saturation_layer"] == 5
    late = tunnel_stats(curve([0.2, 0.3, 0.4, 0.5, 0.6, 0.9], [5] * 6), 0.02)
    assert late["saturation_layer"] == 6 and late["rank_ratio"] == 1.0


def test_rank_is_normalised_by_the_layers_own_capacity():
    """The VGG case of issue 19: a 4096-wide stage (rank 659 of at most n − 1 = 959) then a 256-wide one
    (rank 200): the raw ranks fall to 0.30× the peak by the shapes alone; normalised, 200/256 = 0.78 is
    above 659/959 = 0.69, so the last layer is the peak and nothing fell."""
    rows = curve([0.9] * 2, [659, 200])
    rows[0]["dim"], rows[1]["dim"] = 4096, 256
    assert capacity(4096, 960, 8000) == 959 and capacity(256, 960, 8000) == 256
    assert capacity(9000, None, 8000) == 8000  # older results without n: the features kept
    s = tunnel_stats(rows, 0.02, n_test=960, max_features=8000)
    assert s["rank_ratio"] == 1.0 and s["peak_norm_rank"] == 200 / 256


# -- the claims, decided across seeds as the ledger pools one-seed runs -------------------------------


def planted(
    seed,
    *,
    depth_fall=0.2,
    init_fall=1.0,
    control_same=False,
    sat=4,
    last_factor=1.2,
    classes=8,
    depths=(6, 18),
):
    """One run's results: MLPs of the given depths and a 4-class partner of the deepest; rank falls to
    `depth_fall` of the peak (the control at initialisation to `init_fall`), probe accuracy saturates at
    layer `sat` (the extractor does not grow with depth)."""
    rng = np.random.default_rng(seed)

    def model(depth, k, sat=sat):
        acc = [0.5 + 0.4 * min(i, sat) / sat + 0.004 * rng.random() for i in range(1, depth + 1)]
        ranks = np.linspace(120, 120 * depth_fall, depth).round().astype(int).tolist()
        ranks[-1] = round(last_factor * k) + int(rng.integers(0, 2))
        init = np.linspace(120, 120 * init_fall, depth).round().astype(int).tolist()
        init = list(ranks) if control_same else init
        return {
            "arch": "mlp",
            "depth": depth,
            "data": "glyphs",
            "classes": k,
            "test_acc": 0.9,
            "n_test": 500,
            "probes": {"1": curve(acc, ranks), "5": curve(acc, ranks)},
            "init": [
                {"layer": r["layer"], "dim": 128, "numerical_rank": v} for r, v in zip(curve(acc, init), init)
            ],
        }

    models = {f"mlp{d}-glyphs{classes}": model(d, classes) for d in depths}
    models[f"mlp{depths[-1]}-glyphs4"] = model(depths[-1], 4, sat=1)  # simpler task: shorter extractor
    cfg = {"saturation_tol": 0.02, "rank_fall": 0.5, "rank_classes_factor": 2.0, "min_length_effect": 0.1}
    cfg |= {"rank_tol": 1e-3, "max_features": 8000, "epochs": 5}
    return {"config": cfg, "models": models}


def pooled(runs: list[dict]) -> dict:
    """{claim key: Decision} over the runs' headline records, units re-keyed by run seed (the ledger's way)."""
    records = {}
    for seed, results in enumerate(runs):
        for d in decisions(json.loads(json.dumps(results))):
            rec = records.setdefault(d.key, d.record() | {"units": []})
            rec["units"] += [[f"{seed}:{u[0]}", *u[1:]] for u in d.record()["units"]]
    return {k: from_record(r) for k, r in records.items()}


def test_claims_hold_on_a_planted_tunnel_at_five_seeds():
    got = pooled([planted(s) for s in range(5)])
    assert set(got) == {"compression", "early", "saturation", "rank_classes", "depth", "classes"}
    for key, d in got.items():
        assert d.verdict == "held", (key, d.reason)
        assert d.n == 5
    # one run alone (one seed) decides nothing
    report_ = report(planted(0))
    assert report_.verdict == "inconclusive" and all(c.headline for c in report_.checks)
    assert all(c.verdict == "inconclusive" for c in report_.checks)
    assert {r["key"] for r in report_.claim_records()} == set(got)


def test_claims_fail_without_the_effect():
    # rank falls only to 0.8 of the peak, though below the control: the ≤ ½ claim is excluded
    got = pooled([planted(s, depth_fall=0.8, init_fall=1.0, last_factor=11) for s in range(5)])
    assert got["compression"].verdict == "did not hold", got["compression"].reason
    assert got["rank_classes"].verdict == "did not hold"  # 11× K
    # an extractor that grows with depth (saturation at a third of the layers): no larger fraction
    runs = []
    for s in range(5):
        r = planted(s)
        for m in r["models"].values():
            third = m["depth"] // 3
            for rows in m["probes"].values():
                for i, row in enumerate(rows, 1):
                    row["probe_acc"] = 0.5 + 0.4 * min(i, third) / third
        runs.append(r)
    d = pooled(runs)
    assert d["depth"].verdict == "did not hold" and d["depth"].effect == 0.0  # a tie is not a win
    # accuracy still rising over the last third: not saturated
    for r in runs:
        for m in r["models"].values():
            rows = m["probes"]["5"]
            for i, row in enumerate(rows, 1):
                row["probe_acc"] = 0.3 + 0.6 * i / len(rows)
    assert pooled(runs)["saturation"].verdict == "did not hold"


def test_claims_are_inconclusive_below_their_floor_or_seeds():
    # the untrained control compresses as much as the trained net: the rank fall is not evidence
    got = pooled([planted(s, control_same=True) for s in range(5)])
    assert got["compression"].verdict == "inconclusive" and "floor" in got["compression"].reason
    # probes at chance (1/K): saturation "before the last third" is no evidence of an extractor
    runs = [planted(s) for s in range(5)]
    for r in runs:
        for m in r["models"].values():
            for rows in m["probes"].values():
                for row in rows:
                    row["probe_acc"] = 1 / m["classes"]
    assert pooled(runs)["saturation"].verdict == "inconclusive"
    # four seeds: nothing is decided
    got = pooled([planted(s) for s in range(4)])
    assert all(d.verdict == "inconclusive" and d.n == 4 for d in got.values())


def test_the_rank_classes_claim_leaves_out_layers_too_narrow_to_fail():
    r = planted(0, classes=64)  # width 128 = 2 × 64: the last layer cannot exceed 2K
    keys = {u[1] for d in decisions(r) if d.key == "rank_classes" for u in d.record()["units"]}
    assert keys == {"mlp18-glyphs4"}


def test_model_specs_and_config_validation():
    assert parse_model("vgg16-digits5") == ("vgg", 16, "digits", 5)
    assert parse_model("mlp12-glyphs32") == ("mlp", 12, "glyphs", 32)
    for bad in ("cnn3-digits", "mlp1-digits", "mlp4-digits11", "mlp4-glyphs1"):
        with pytest.raises(ValueError):
            parse_model(bad)
    with pytest.raises(ValueError, match="probe_epochs"):
        Config(epochs=3, probe_epochs=(5,))
    with pytest.raises(ValueError, match="rank_tol"):
        Config(rank_tol=0)


def test_deep_nets_name_their_layers():
    mlp, cnn = DeepMLP(64, 10, depth=5, width=16), DeepCNN(1, 10, depth=6, width=4, pools=2)
    names = dict(mlp.named_children())
    assert [n for n in names if n.startswith("layer")] == layer_names(5)
    assert mlp(torch.randn(3, 1, 8, 8)).shape == (3, 10)
    assert cnn(torch.randn(3, 1, 16, 16)).shape == (3, 10)
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in cnn.modules()) == 2


def test_datasets_are_deterministic_and_stratified():
    a, b = make_glyphs(classes=5, per_class=10, seed=3), make_glyphs(classes=5, per_class=10, seed=3)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], make_glyphs(5, 10, seed=4)[0])
    g = load_glyphs(classes=5, per_class=20)
    assert torch.bincount(g.test_y).tolist() == [6] * 5 and g.train_x.shape[1:] == (1, 16, 16)
    d = load_digits(size=16)
    assert d.train_x.shape[1:] == (1, 16, 16) and d.classes == 10
    assert abs(d.train_x.mean()) < 1e-4 and d.test_x.shape[0] == 539
    sub = d.subset([3, 5])
    assert sub.classes == 2 and set(sub.train_y.tolist()) == {0, 1}


def test_control_at_initialisation_leaves_the_model_unchanged():
    split = load_digits()
    model = DeepMLP(64, 10, depth=3, width=16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rows = init_ranks(model, split, Config(), 0, "m")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and model.training
    assert [r["layer"] for r in rows] == layer_names(3) and all(1 <= r["numerical_rank"] <= 16 for r in rows)
    assert rows == init_ranks(model, split, Config(), 0, "m")  # deterministic


def test_results_from_before_the_control_still_report():
    """Results written before the control and the new thresholds: the registered values apply, the rank
    claims have no floor, capacity falls back to min(dim, max_features)."""
    r = planted(0)
    for m in r["models"].values():
        m.pop("init"), m.pop("n_test")
    for key in ("rank_classes_factor", "min_length_effect", "max_features"):
        r["config"].pop(key)
    got = {d.key: d for d in decisions(r)}
    assert got["compression"].floor is None and got["depth"].min_effect == 0.1
    assert report(r).verdict == "inconclusive"
