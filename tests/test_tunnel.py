import numpy as np
import pytest
import torch

from replab.data.digits import load_digits
from replab.data.glyphs import load_glyphs, make_glyphs
from replab.experiments.tunnel._report import analyse, tunnel_stats
from replab.experiments.tunnel.tunnel import Config, parse_model
from replab.nn.deep import DeepCNN, DeepMLP, layer_names


def curve(acc, rank):
    return [
        {"layer": f"layer{i:02d}", "probe_acc": a, "numerical_rank": r}
        for i, (a, r) in enumerate(zip(acc, rank), 1)
    ]


def test_tunnel_split_on_a_hand_made_curve():
    rows = curve([0.5, 0.8, 0.90, 0.91, 0.92, 0.915], [40, 60, 50, 20, 12, 10])
    s = tunnel_stats(rows, saturation_tol=0.02, rank_fall=0.5)
    assert s["saturation_layer"] == 3 and s["tunnel_length"] == 3  # 0.90 >= 0.92 - 0.02
    assert s["peak_rank"] == 60 and s["last_rank"] == 10 and s["tunnel"]
    assert tunnel_stats(rows, saturation_tol=0.005, rank_fall=0.5)["saturation_layer"] == 5
    # accuracy still rising in the last third: no tunnel
    late = tunnel_stats(curve([0.2, 0.3, 0.4, 0.5, 0.6, 0.9], [5] * 6), 0.02, 0.5)
    assert late["saturation_layer"] == 6 and not late["saturates_early"] and not late["rank_falls"]


def test_analysis_compares_only_models_that_differ_in_one_factor():
    def model(depth, classes, sat):
        acc = [0.5] * (sat - 1) + [0.9] * (depth - sat + 1)
        return {
            "arch": "mlp",
            "depth": depth,
            "data": "glyphs",
            "classes": classes,
            "test_acc": 0.9,
            "probes": {"1": curve(acc, [10] * depth), "5": curve(acc, [50] + [10] * (depth - 1))},
        }

    results = {
        "config": {"saturation_tol": 0.02, "rank_fall": 0.5, "rank_tol": 1e-3, "epochs": 5},
        "models": {
            "mlp4-glyphs8": model(4, 8, 2),
            "mlp8-glyphs8": model(8, 8, 2),
            "mlp8-glyphs16": model(8, 16, 5),
        },
    }
    final, checks = analyse(results)
    names = [c.name for c in checks]
    depth = next(c for c in checks if c.name.startswith("deeper"))
    classes = next(c for c in checks if c.name.startswith("fewer classes"))
    assert depth.held and "mlp4-glyphs8: 2, mlp8-glyphs8: 6" in depth.measured
    assert classes.held and "mlp8-glyphs8: 6, mlp8-glyphs16: 3" in classes.measured
    assert sum(n.startswith("deeper") for n in names) == 1  # mlp8-glyphs16 has no depth partner
    assert final["mlp8-glyphs8"]["tunnel"]
    early = next(c for c in checks if c.name.startswith("mlp8-glyphs8: tunnel already"))
    assert not early.held  # flat rank at epoch 1: no fall


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
