import pytest
import torch
from torch import nn

from replab.probe import (
    LayerProbe,
    Monitor,
    covariance_spectrum,
    dormant_fraction,
    feature_norm,
    linear_probe,
    numerical_rank,
    srank,
)


def low_rank(n=200, d=50, k=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, generator=g, dtype=torch.float64) @ torch.randn(
        k, d, generator=g, dtype=torch.float64
    )


def test_srank_known_answers():
    assert srank(torch.diag(torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0]))) == 3
    assert srank(torch.outer(torch.arange(1.0, 6.0), torch.arange(1.0, 4.0))) == 1
    # singular values 10, 1 (sum 11): the top one holds 0.909 < 0.99 of the mass, so srank_0.01 = 2,
    # while δ = 0.1 accepts k = 1.
    m = torch.diag(torch.tensor([10.0, 1.0]))
    assert srank(m, 0.01) == 2 and srank(m, 0.1) == 1
    assert srank(torch.zeros(4, 3)) == 0


def test_srank_delta_zero_is_the_rank():
    x = low_rank(k=7)
    assert srank(x, 0.0) == 7 == torch.linalg.matrix_rank(x)


def test_numerical_rank_of_rank_k_features():
    for k in (1, 5, 12):
        assert numerical_rank(low_rank(k=k, seed=k)) == k
    # default-tolerance variant (the code's matrix_rank) counts at least as many eigenvalues
    x = low_rank(k=5) + 1e-3 * torch.randn(200, 50, dtype=torch.float64)
    assert numerical_rank(x, tol=None) >= numerical_rank(x, tol=1e-3)


def test_numerical_rank_threshold_is_relative_to_the_top_eigenvalue():
    # features with per-direction std 1, 0.1, 0.01: covariance eigenvalues 1, 1e-2, 1e-4
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5000, 3, generator=g, dtype=torch.float64)
    z = (z - z.mean(0)) / z.std(0)
    x = z * torch.tensor([1.0, 0.1, 0.01], dtype=torch.float64)
    assert numerical_rank(x, tol=1e-3) == 2
    assert numerical_rank(x, tol=1e-5) == 3


def test_feature_subsample_is_deterministic_and_matches_covariance():
    x = torch.randn(30, 100, dtype=torch.float64)
    a = covariance_spectrum(x, max_features=40, generator=torch.Generator().manual_seed(3))
    b = covariance_spectrum(x, max_features=40, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    full = covariance_spectrum(x, max_features=None)
    direct = torch.linalg.eigvalsh(torch.cov(x.T)).flip(0)[:29]
    assert torch.allclose(full[:29], direct, atol=1e-10)


def test_dormant_fraction_and_feature_norm():
    acts = torch.ones(10, 4)
    acts[:, 0] = 0.0  # dead
    acts[:, 1] = 0.05  # tiny: score 0.05 / mean
    # mean activity 0.5125: normalised scores 0, 0.098, 1.95, 1.95
    assert dormant_fraction(acts, tau=0.0) == 0.25
    assert dormant_fraction(acts, tau=0.1) == 0.5
    assert dormant_fraction(acts, tau=0.09) == 0.25
    conv = torch.zeros(3, 2, 4, 4)
    conv[:, 1] = 1.0
    assert dormant_fraction(conv) == 0.5
    assert feature_norm(torch.tensor([[3.0, 4.0], [0.0, 1.0]])) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="tau"):
        dormant_fraction(acts, tau=-1)


@pytest.mark.parametrize("method", ["lbfgs", "sgd"])
def test_linear_probe_separable_and_random(method):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 20, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    acc = linear_probe(x[:400], y[:400], x[400:], y[400:], method=method, lr=1e-2, generator=g)
    assert acc > 0.95
    random_y = torch.randint(0, 5, (600,), generator=g)
    chance = linear_probe(x[:400], random_y[:400], x[400:], random_y[400:], method="lbfgs")
    assert chance < 0.4


def test_linear_probe_is_deterministic():
    x, y = torch.randn(300, 10), torch.randint(0, 3, (300,))
    assert linear_probe(x[:200], y[:200], x[200:], y[200:]) == linear_probe(
        x[:200], y[:200], x[200:], y[200:]
    )


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3), nn.BatchNorm1d(3))


def test_layer_probe_captures_without_changing_the_model():
    model = small_net().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(50, 6)
    feats = LayerProbe(model, ["1", "3"]).features(x, batch_size=16)
    assert feats["1"].shape == (50, 8) and feats["3"].shape == (50, 3)
    # batches of 16 against one batch of 50: the BLAS may block the two matmuls differently (another CPU,
    # another thread count), so float32 round-off of a 6-term dot product, not bit equality
    torch.testing.assert_close(feats["1"], torch.relu(model[0](x)).detach(), rtol=1e-5, atol=1e-6)
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # BN running stats untouched (eval mode while capturing)
    with pytest.raises(ValueError, match="unknown layers"):
        LayerProbe(model, ["nope"])


def test_layer_probe_report_rows():
    model = small_net()
    x, y = torch.randn(80, 6), torch.randint(0, 2, (80,))
    rows = LayerProbe(model, ["0", "1"]).report(x[:60], y[:60], x[60:], y[60:])
    assert [r["layer"] for r in rows] == ["0", "1"]
    assert rows[0]["dim"] == 8 and rows[0]["numerical_rank"] == 6  # a linear map of 6-dim inputs
    assert all(0 <= r["probe_acc"] <= 1 for r in rows)


def test_monitor_logs_every_n_steps_with_its_overhead():
    model = small_net()
    logged = []
    mon = Monitor(model, torch.randn(40, 6), ["1"], log=lambda m, s: logged.append((s, m)), every=5)
    mon.add("weight_norm", lambda m: float(sum(p.detach().norm() ** 2 for p in m.parameters()) ** 0.5))
    for step in range(12):
        mon.step(step)
    assert [s for s, _ in logged] == [0, 5, 10]
    keys = set(logged[0][1])
    assert {
        "probe/srank/1",
        "probe/dormant_fraction/1",
        "probe/feature_norm/1",
        "probe/weight_norm",
        "perf/probe_seconds",
        "perf/probe_overhead",
    } <= keys
    assert 0 < logged[-1][1]["perf/probe_overhead"] <= 1
    with pytest.raises(ValueError, match="unknown probe .nope."):
        Monitor(model, torch.randn(4, 6), ["1"], log=print, probes=("nope",))


def test_rank_probes_refuse_non_finite_features_with_a_clear_error():
    from replab.probe import numerical_rank, srank

    x = torch.randn(16, 4)
    x[3, 1] = float("nan")
    for fn in (srank, numerical_rank):
        with pytest.raises(ValueError, match="1 NaN or infinite.*diverged"):
            fn(x)
