import math

import pytest
import torch

from replab.losses.info_nce import info_nce, nt_xent
from replab.losses.queue import EmbeddingQueue


def test_hand_computed_instance_case():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # logits = I: each anchor −log(e / (e + 1))
    assert info_nce(q, q.clone()).item() == pytest.approx(math.log1p(math.exp(-1)), abs=1e-6)
    # temperature 0.5 doubles the logits
    assert info_nce(q, q.clone(), temperature=0.5).item() == pytest.approx(math.log1p(math.exp(-2)), abs=1e-6)


def test_identical_embeddings_give_log_n():  # seed002 §6.6 unit test
    z = torch.ones(8, 5)
    assert info_nce(z, z, normalize=True, temperature=0.1).item() == pytest.approx(math.log(8), abs=1e-5)


def test_bilinear_weight_and_queue():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[1.0, 0.0]])
    w = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    queue = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    # logits: q W kᵀ = 2, q W queueᵀ = (0, 2)
    want = -math.log(math.exp(2) / (math.exp(2) + math.exp(0) + math.exp(2)))
    assert info_nce(q, k, weight=w, queue=queue).item() == pytest.approx(want, abs=1e-6)


def test_multi_positive_denominators():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[1.0, 0.0], [0.5, 0.0], [-1.0, 0.0]])
    labels, k_labels = torch.tensor([3]), torch.tensor([3, 3, 7])
    a, b, c = 1.0, 0.5, -1.0
    neg = -0.5 * (
        math.log(math.exp(a) / (math.exp(a) + math.exp(c)))
        + math.log(math.exp(b) / (math.exp(b) + math.exp(c)))
    )
    all_ = -0.5 * (a + b) + math.log(math.exp(a) + math.exp(b) + math.exp(c))
    assert info_nce(q, k, labels=labels, k_labels=k_labels).item() == pytest.approx(neg, abs=1e-6)
    got = info_nce(q, k, labels=labels, k_labels=k_labels, denominator="all").item()
    assert got == pytest.approx(all_, abs=1e-6)


def test_labels_equal_instance_mode_when_labels_are_ids():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    ids = torch.arange(6)
    assert torch.allclose(info_nce(q, k, labels=ids), info_nce(q, k), atol=1e-6)


def test_queue_labels_make_semantic_positives_and_unknown_is_negative():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[1.0, 0.0]])
    queue = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    labels = torch.tensor([0])
    # queue entry 1 shares the label: two positives (logits 1, 1), one negative (0)
    got = info_nce(q, k, labels=labels, queue=queue, queue_labels=torch.tensor([5, 0])).item()
    assert got == pytest.approx(-math.log(math.e / (math.e + 1)), abs=1e-6)
    # unknown queue labels (default −1) are negatives
    got = info_nce(q, k, labels=labels, queue=queue).item()
    assert got == pytest.approx(-math.log(math.e / (2 * math.e + 1)), abs=1e-6)


def test_nt_xent_matches_brute_force_simclr():
    g = torch.Generator().manual_seed(1)
    z0, z1 = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    tau = 0.5
    z = torch.nn.functional.normalize(torch.cat([z0, z1]), dim=1)
    total = 0.0
    for i in range(10):
        pos = (i + 5) % 10
        others = [j for j in range(10) if j != i]
        denom = sum(math.exp(float(z[i] @ z[j]) / tau) for j in others)
        total += -(float(z[i] @ z[pos]) / tau - math.log(denom))
    assert nt_xent(z0, z1, tau).item() == pytest.approx(total / 10, abs=1e-5)
    general = info_nce(
        torch.cat([z0, z1]),
        torch.cat([z0, z1]),
        labels=torch.arange(5).repeat(2),
        normalize=True,
        temperature=tau,
        exclude_self=True,
    )
    assert general.item() == pytest.approx(total / 10, abs=1e-5)


@pytest.mark.parametrize("kwargs", [dict(), dict(normalize=True, temperature=0.2), dict(bilinear=True)])
def test_loss_falls_in_20_sgd_steps(kwargs):
    g = torch.Generator().manual_seed(2)
    z1 = torch.randn(16, 8, generator=g).requires_grad_()
    z2 = torch.randn(16, 8, generator=g).requires_grad_()
    params = [z1, z2]
    w = None
    if kwargs.pop("bilinear", False):
        w = torch.randn(8, 8, generator=g).mul_(0.1).requires_grad_()
        params.append(w)
    opt = torch.optim.SGD(params, lr=0.5)
    first = None
    for _ in range(20):
        loss = info_nce(z1, z2, weight=w, **kwargs)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert info_nce(z1, z2, weight=w, **kwargs).item() < first - 0.1


def test_validation_errors():
    q = torch.randn(3, 2)
    with pytest.raises(ValueError, match="temperature"):
        info_nce(q, q, temperature=0.0)
    with pytest.raises(ValueError, match="denominator"):
        info_nce(q, q, labels=torch.arange(3), denominator="some")
    with pytest.raises(ValueError, match="no anchor has a positive"):
        info_nce(q, q, labels=torch.arange(3), k_labels=torch.full((3,), -1))


def test_queue_fifo():
    qu = EmbeddingQueue(size=3, dim=2)
    qu.push(torch.ones(2, 2), labels=torch.tensor([1, 2]), ids=torch.tensor([10, 11]))
    assert len(qu) == 2
    qu.push(torch.full((2, 2), 2.0), labels=torch.tensor([3, 4]))
    z, labels, ids = qu.get()
    assert len(qu) == 3
    # the oldest entry (label 1) was overwritten by the newest (label 4)
    assert sorted(labels.tolist()) == [2, 3, 4]
    assert ids.tolist().count(11) == 1 and ids.tolist().count(-1) == 2
    with pytest.raises(ValueError):
        EmbeddingQueue(0, 2)
