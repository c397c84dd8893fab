import math

import pytest
import torch

from replab.losses.semppl import (
    knn_pseudo_labels,
    sample_semantic_positives,
    semantic_positive_loss,
    semppl_loss,
)


def test_knn_pseudo_labels_known_neighbours():
    bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    bank_y = torch.tensor([0, 0, 1, 2])
    z = torch.tensor([[1.0, 0.05], [0.1, 1.0], [-1.0, 0.1]])
    assert knn_pseudo_labels(z, bank, bank_y, k=1).tolist() == [0, 1, 2]
    # k=3 for the first query: neighbours 0, 0, 1 -> majority 0
    assert knn_pseudo_labels(z[:1], bank, bank_y, k=3).tolist() == [0]
    # a 1–1 tie is broken by the larger similarity
    assert knn_pseudo_labels(torch.tensor([[0.2, 1.0]]), bank[1:3], bank_y[1:3], k=2).tolist() == [1]


def test_positive_sampling_never_pairs_anchor_with_itself():
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 1, 0, -1])
    ids = torch.tensor([100, 101, 102, 103])
    queue_labels = torch.tensor([0, 0, 1, 1, 0, -1, 0])
    queue_ids = torch.tensor([100, 102, 101, 7, 8, 103, 9])
    for _ in range(20):
        idx, mask = sample_semantic_positives(
            labels, queue_labels, 3, ids=ids, queue_ids=queue_ids, generator=g
        )
        for i in range(4):
            chosen = idx[i][mask[i]]
            assert (queue_ids[chosen] != ids[i]).all()
            assert (queue_labels[chosen] == labels[i]).all()
            assert len(set(chosen.tolist())) == len(chosen)  # without replacement
    # counts: anchor 0 (label 0, id 100) has 3 eligible (ids 102, 8, 9); anchor 1 has 2 (ids 101 excluded);
    # anchor 3 is unlabelled: none
    assert mask.sum(1).tolist() == [3, 1, 3, 0]


def test_semantic_positive_loss_hand_case():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    pos = torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]]])
    mask = torch.tensor([[True], [False]])
    # anchor 0: positive logit 1/τ, its only negative t_1 has logit 0
    tau = 0.5
    want = -math.log(math.exp(2) / (math.exp(2) + 1))
    assert semantic_positive_loss(a, t, pos, mask, tau).item() == pytest.approx(want, abs=1e-6)


def test_semppl_loss_is_augm_plus_alpha_sempos_and_falls():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(16, 8, generator=g).requires_grad_()
    t = torch.randn(16, 8, generator=g)
    qz = torch.randn(40, 8, generator=g)
    ql = torch.randint(0, 4, (40,), generator=g)
    labels = torch.randint(0, 4, (16,), generator=g)
    loss0, m = semppl_loss(
        a,
        t,
        labels=labels,
        queue_z=qz,
        queue_labels=ql,
        alpha=0.5,
        temperature=0.2,
        generator=torch.Generator().manual_seed(0),
    )
    assert loss0.item() == pytest.approx(m["loss/augm"] + 0.5 * m["loss/sempos"], rel=1e-5)
    opt = torch.optim.SGD([a], lr=1.0)
    for step in range(20):
        loss, _ = semppl_loss(
            a,
            t,
            labels=labels,
            queue_z=qz,
            queue_labels=ql,
            alpha=0.5,
            temperature=0.2,
            generator=torch.Generator().manual_seed(step),
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    final, m1 = semppl_loss(
        a,
        t,
        labels=labels,
        queue_z=qz,
        queue_labels=ql,
        alpha=0.5,
        temperature=0.2,
        generator=torch.Generator().manual_seed(0),
    )
    assert final.item() < loss0.item() - 0.1
    assert m1["loss/sempos"] < m["loss/sempos"] and m1["loss/augm"] < m["loss/augm"]  # both terms fall


def test_semppl_with_empty_queue_is_plain_infonce():
    a, t = torch.randn(4, 3), torch.randn(4, 3)
    loss, m = semppl_loss(
        a,
        t,
        labels=torch.zeros(4, dtype=torch.long),
        queue_z=torch.zeros(0, 3),
        queue_labels=torch.zeros(0, dtype=torch.long),
    )
    assert m["loss/sempos"] == 0.0 and loss.item() == pytest.approx(m["loss/augm"])
