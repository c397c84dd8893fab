"""CRW transition matrices, the palindrome walk and the cycle loss (seed003 B.2, B.9)."""

import math

import pytest
import torch

from replab.losses.crw import crw_loss, cycle_loss_of_walk, palindrome_walks, transition_matrices


def _nodes(b=2, t=5, n=6, d=8, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, n, d, generator=g, dtype=dtype)


@pytest.mark.parametrize("edge_drop", [0.0, 0.1, 0.5])
def test_every_transition_row_sums_to_one(edge_drop):
    g = torch.Generator().manual_seed(1)
    fwd, bwd = transition_matrices(_nodes(), tau=0.07, edge_drop=edge_drop, generator=g)
    assert fwd.shape == bwd.shape == (2, 4, 6, 6)
    for a in (fwd, bwd):
        assert (a >= 0).all()
        torch.testing.assert_close(a.sum(-1), torch.ones(2, 4, 6, dtype=a.dtype), atol=1e-12, rtol=0)
    for w in palindrome_walks(fwd, bwd):  # products of row-stochastic matrices stay row-stochastic
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 6, dtype=w.dtype), atol=1e-10, rtol=0)


def test_backward_uses_the_same_similarities_transposed():
    nodes = _nodes()
    fwd, bwd = transition_matrices(nodes, tau=0.1)
    q = torch.nn.functional.normalize(nodes, dim=-1)
    s = q[:, 1] @ q[:, 2].transpose(-1, -2) / 0.1  # frames 1 -> 2
    torch.testing.assert_close(fwd[:, 1], s.softmax(-1))
    torch.testing.assert_close(bwd[:, 1], s.transpose(-1, -2).softmax(-1))


def test_edge_dropout_is_independent_per_matrix_and_direction():
    g = torch.Generator().manual_seed(0)
    fwd, bwd = transition_matrices(_nodes(n=16), tau=0.07, edge_drop=0.3, generator=g)
    dropped_f, dropped_b = fwd < 1e-30, bwd.transpose(-1, -2) < 1e-30
    assert dropped_f.any() and not torch.equal(dropped_f, dropped_b)
    assert not torch.equal(dropped_f[:, 0], dropped_f[:, 1])


def test_walk_order_matches_a_brute_force_loop_over_time():
    """Algorithm 6 written out (B.2.4): W = A_0^1 … A_{k−1}^k A_k^{k−1} … A_1^0, recomputed per k.
    Tolerance: float64, different grouping of the same products -> agreement to 1e-10."""
    nodes = _nodes(t=7)
    fwd, bwd = transition_matrices(nodes, tau=0.2)
    walks = palindrome_walks(fwd, bwd)
    assert len(walks) == 6
    for k in range(1, 7):
        for b in range(nodes.shape[0]):
            w = torch.eye(6, dtype=torch.float64)
            for j in range(k):
                w = w @ fwd[b, j]
            for j in reversed(range(k)):
                w = w @ bwd[b, j]
            torch.testing.assert_close(walks[k - 1][b], w, atol=1e-10, rtol=0)
    # the order matters: the reversed (wrong) order gives a different matrix
    wrong = bwd[0, 0] @ bwd[0, 1] @ fwd[0, 1] @ fwd[0, 0]
    assert (wrong - walks[1][0]).abs().max() > 1e-3


def test_loss_is_mean_of_sub_cycle_losses():
    nodes = _nodes()
    loss, metrics = crw_loss(nodes, tau=0.1)
    per_k = [metrics[f"loss/crw_k{k}"] for k in range(1, 5)]
    assert math.isclose(float(loss), sum(per_k) / 4, rel_tol=1e-9)
    fwd, bwd = transition_matrices(nodes, tau=0.1)
    w = palindrome_walks(fwd, bwd)[0]
    manual = -torch.log(torch.diagonal(w, dim1=-2, dim2=-1)).mean()
    assert math.isclose(float(cycle_loss_of_walk(w)), float(manual), rel_tol=1e-9)
    # crw_loss reads only the walks' diagonals: the same per-k losses as the full round-trip matrices
    full = [float(cycle_loss_of_walk(walk)) for walk in palindrome_walks(fwd, bwd)]
    for k, v in enumerate(full, start=1):
        assert math.isclose(metrics[f"loss/crw_k{k}"], v, rel_tol=1e-6), k  # float32: grouping differs


def test_perfect_encoder_on_identical_frames_is_at_the_minimum():
    """Identical frames, no dropout, one-hot distinct node embeddings: every walk is ≈ identity, so the
    cross-entropy (≥ 0) is ≈ 0 at low temperature; a random encoder is far above."""
    n, t = 9, 6
    perfect = torch.eye(n, dtype=torch.float64).expand(2, t, n, n)
    loss, metrics = crw_loss(perfect, tau=0.01)
    assert 0 <= float(loss) < 1e-12 and metrics["train/crw_acc"] == 1.0
    random_loss, _ = crw_loss(_nodes(t=t, n=n, d=n), tau=0.01)
    assert float(random_loss) > 1.0
    # at a higher temperature the one-hot encoder is still below a perturbed one
    base, _ = crw_loss(perfect, tau=0.5)
    noisy = perfect + 0.3 * _nodes(t=t, n=n, d=n)
    assert float(base) < float(crw_loss(noisy, tau=0.5)[0])


def test_loss_has_gradients_and_rejects_bad_input():
    nodes = _nodes(dtype=torch.float32).requires_grad_(True)
    loss, _ = crw_loss(nodes, tau=0.07, edge_drop=0.1, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(nodes.grad).all() and nodes.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="T >= 2"):
        crw_loss(torch.randn(1, 1, 4, 3))
    with pytest.raises(ValueError, match="tau"):
        crw_loss(torch.randn(1, 3, 4, 3), tau=0.0)
    with pytest.raises(ValueError, match="edge dropout"):
        crw_loss(torch.randn(1, 3, 4, 3), edge_drop=1.0)


def test_loss_and_gradient_match_algorithm6_transcribed():
    """crw_loss (batched softmax, prefix/suffix walks, diagonals only) against seed003 B.2.4's Algorithm 6
    written as a loop over time (every walk recomputed), float64, no dropout: loss and input gradient."""
    torch.manual_seed(3)
    nodes = torch.randn(2, 5, 6, 4, dtype=torch.float64)

    def algorithm6(x):
        v = torch.nn.functional.normalize(x, dim=-1)
        s = torch.einsum("btnc,btmc->btnm", v[:, :-1], v[:, 1:])
        fwd = [torch.softmax(s[:, i] / 0.1, -1) for i in range(4)]
        bwd = [torch.softmax(s[:, i].transpose(-1, -2) / 0.1, -1) for i in range(4)]
        losses = []
        for k in range(1, 5):
            w = fwd[0]
            for j in range(1, k):
                w = w @ fwd[j]
            for j in reversed(range(k)):
                w = w @ bwd[j]
            losses.append(
                torch.nn.functional.nll_loss(torch.log(w + 1e-20).flatten(0, 1), torch.arange(6).repeat(2))
            )
        return torch.stack(losses).mean()

    a, b = nodes.clone().requires_grad_(True), nodes.clone().requires_grad_(True)
    la, lb = crw_loss(a, tau=0.1)[0], algorithm6(b)
    la.backward()
    lb.backward()
    assert math.isclose(la.item(), lb.item(), rel_tol=1e-12)
    torch.testing.assert_close(a.grad, b.grad, atol=1e-12, rtol=1e-9)
