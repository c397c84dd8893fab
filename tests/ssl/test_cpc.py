import math

import pytest
import torch

from replab.losses.cpc import cpc_labels, cpc_loss, patch_overlap
from replab.nn.cpc import CPCHead, PixelCNN, patchify


def test_labels_match_brute_force():
    b, h, w, k = 2, 6, 5, 3
    want, n = [], 0
    for bi in range(b):
        for i in range(h - k):
            for j in range(w):
                want.append(bi * h * w + (i + k) * w + j)  # same image, same column, k rows further down
                n += 1
    assert cpc_labels(b, h, w, k).tolist() == want


def test_hand_computed_loss():
    # B=1, H=2, W=1, offset 1: the one prediction (row 0) must pick target row 1 among {row 0, row 1}
    preds = torch.tensor([[[[10.0, 0.0]], [[0.0, 0.0]]]])  # (1, 2, 1, 2)
    targets = torch.tensor([[[[0.0, 1.0]], [[1.0, 0.0]]]])
    # logits = 0.1 · (10·0, 10·1) = (0, 1)
    want = -math.log(math.e / (1 + math.e))
    assert cpc_loss(preds, targets, 1).item() == pytest.approx(want, abs=1e-6)


def test_never_scores_a_target_overlapping_the_context():
    # thesis geometry: 80-px patches, stride 36, 6×6 grid; and the reduced 8-px/stride-4 grid (seed001 §1.7)
    for patch, stride, grid in [(80, 36, 6), (8, 4, 6)]:
        h = w = grid
        labels = cpc_labels(1, h, w, 3)
        for n, lab in enumerate(labels.tolist()):
            ctx_row, tgt_row = n // w, lab // w
            ctx_pixels = set(range(0, ctx_row * stride + patch))  # rows 0..ctx_row of patches, in pixels
            tgt_pixels = set(range(tgt_row * stride, tgt_row * stride + patch))
            assert not ctx_pixels & tgt_pixels
        assert patch_overlap(patch, stride, 3) == 0
    assert patch_overlap(80, 36, 1) == 44 and patch_overlap(80, 36, 2) == 8
    with pytest.raises(ValueError, match="overlaps the context"):
        CPCHead(8, patch=80, stride=36, steps_to_ignore=1, steps_to_predict=3)


def test_pixelcnn_is_causal_in_rows():
    torch.manual_seed(0)
    net = PixelCNN(dim=4, hidden=8, blocks=5)
    x = torch.randn(1, 4, 6, 5, requires_grad=True)
    out = net(x)
    for i in range(6):
        (g,) = torch.autograd.grad(out[:, :, i].sum(), x, retain_graph=True)
        assert g[:, :, i + 1 :].abs().sum() == 0  # row i never sees rows below it
        assert g[:, :, : i + 1].abs().sum() > 0


def test_patchify_grid():
    x = torch.arange(28 * 28.0).reshape(1, 1, 28, 28)
    p = patchify(x, 8, 4)
    assert p.shape == (1, 6, 6, 1, 8, 8)
    assert torch.equal(p[0, 2, 3, 0], x[0, 0, 8:16, 12:20])


@pytest.mark.parametrize("directions", [1, 4])
def test_cpc_head_loss_falls_in_20_steps(directions):
    torch.manual_seed(0)
    head = CPCHead(latent_dim=8, target_dim=8, hidden=16, blocks=2, directions=directions)
    # latents with structure: a row-wise pattern the context can predict
    base = torch.randn(4, 8, 1, 6)
    latents = (base + 0.3 * torch.randn(4, 8, 6, 6)).requires_grad_()
    opt = torch.optim.Adam(list(head.parameters()) + [latents], lr=1e-2)
    first, _ = head(latents)
    for _ in range(20):
        loss, metrics = head(latents)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert head(latents)[0].item() < first.item() - 0.1
    assert len(metrics) == directions
