"""Label propagation (seed003 B.2.7) and the J / F metrics on hand-made masks."""

import pytest
import torch

from replab.video.metrics import boundary, boundary_f, default_tolerance, j_and_f, region_j
from replab.video.propagate import labels_from_mask, propagate_labels, propagate_mask


def _square(size, r, c, s=4):
    m = torch.zeros(size, size, dtype=torch.bool)
    m[r : r + s, c : c + s] = True
    return m


def test_static_video_reproduces_the_first_mask():
    g = torch.Generator().manual_seed(0)
    frame = torch.randn(16, 8, 8, generator=g)
    feats = frame.expand(6, -1, -1, -1).clone()
    mask = torch.zeros(32, 32, dtype=torch.long)
    mask[8:20, 4:16] = 1  # aligned with the 4-pixel feature cells
    mask[20:28, 20:32] = 2
    labels = labels_from_mask(mask, 3, (8, 8))
    # k = 1 + m: the top-k are the node's own copies in every context frame -> labels reproduced
    # (tolerance: float32 softmax/average of identical labels)
    soft = propagate_labels(feats, labels, tau=0.07, k=4, m=3, radius=3)
    torch.testing.assert_close(soft, labels.expand_as(soft), atol=1e-5, rtol=0)
    # at image resolution the reference is the first mask through the same down/up-sampling (bilinear +
    # argmax rounds off rectangle corners, a resolution loss, not a propagation one)
    roundtrip = torch.nn.functional.interpolate(labels[None], size=(32, 32), mode="bilinear").argmax(1)[0]
    assert region_j(roundtrip == 1, mask == 1) > 0.95
    for k in (4, 10):  # larger k mixes in a little of other nodes' labels; the argmax mask is unchanged
        out = propagate_mask(feats, mask, tau=0.07, k=k, m=3, radius=3)
        assert out.shape == (6, 32, 32) and torch.equal(out[0], mask)
        assert torch.equal(out[1:], roundtrip.expand(5, -1, -1))


def test_propagation_follows_a_translating_scene():
    """The scene slides one feature cell left per frame; features are unique per scene location, so the
    propagated object mask follows the object (new content enters only at the right edge)."""
    g = torch.Generator().manual_seed(1)
    t_len, h, w = 6, 8, 12
    scene = torch.randn(16, h, w + t_len, generator=g)
    feats = torch.stack([scene[:, :, t : t + w] for t in range(t_len)])
    scene_mask = torch.zeros(h, w + t_len, dtype=torch.long)
    scene_mask[2:6, 6:10] = 1
    gt = torch.stack([scene_mask[:, t : t + w] for t in range(t_len)])
    pred = propagate_mask(feats, gt[0], tau=0.05, k=3, m=2, radius=2)
    for t in range(1, t_len):  # content seen in frame 0: columns < w − t (the rest is new, unmatched)
        assert torch.equal(pred[t, :, : w - t], gt[t, :, : w - t]), t


def test_context_is_first_frame_plus_soft_predictions():
    """A frame with no good match in the short-term context still gets the first frame's labels (the
    first frame is never radius-masked), and the outputs are soft (rows sum to 1, not one-hot)."""
    g = torch.Generator().manual_seed(2)
    f0 = torch.randn(8, 4, 4, generator=g)
    other = torch.randn(8, 4, 4, generator=g)
    feats = torch.stack([f0, other, other, torch.roll(f0, 2, dims=-1)])
    labels = torch.rand(3, 4, 4, generator=g)
    labels = labels / labels.sum(0, keepdim=True)
    soft = propagate_labels(feats, labels, tau=0.01, k=1, m=2, radius=0.5)
    torch.testing.assert_close(soft[3], torch.roll(labels, 2, dims=-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(soft.sum(1), torch.ones(4, 4, 4), atol=1e-5, rtol=0)


def test_propagation_rejects_bad_input():
    with pytest.raises(ValueError, match="first_labels"):
        propagate_labels(torch.randn(3, 4, 5, 5), torch.rand(2, 4, 4))
    with pytest.raises(ValueError, match="k >= 1"):
        propagate_labels(torch.randn(3, 4, 5, 5), torch.rand(2, 5, 5), k=0)


def test_region_j_on_hand_made_masks():
    a, b = _square(10, 2, 2), _square(10, 2, 4)  # 16 px each, overlap 8
    assert region_j(a, b) == pytest.approx(8 / 24)
    assert region_j(a, a) == 1.0
    assert region_j(a, _square(10, 6, 6, 2)) == 0.0
    empty = torch.zeros(10, 10, dtype=torch.bool)
    assert region_j(empty, empty) == 1.0


def test_boundary_f_on_hand_made_masks():
    a = _square(12, 3, 3)
    assert boundary(a).sum() == 12  # the 4x4 square's perimeter
    assert boundary_f(a, a, tolerance=0) == 1.0
    shifted = _square(12, 3, 4)
    # by hand: 6 of the 12 boundary pixels coincide in each direction -> P = R = F = 1/2
    assert boundary_f(shifted, a, tolerance=0) == pytest.approx(0.5)
    assert boundary_f(shifted, a, tolerance=1) == 1.0
    empty = torch.zeros(12, 12, dtype=torch.bool)
    assert boundary_f(empty, a) == 0.0 and boundary_f(empty, empty) == 1.0
    assert default_tolerance((480, 854)) == 8


def test_j_and_f_over_objects_and_frames():
    gt = torch.zeros(3, 12, 12, dtype=torch.long)
    gt[:, 2:6, 2:6] = 1
    gt[:, 7:11, 7:11] = 2
    assert j_and_f(gt, gt) == {"J": 1.0, "F": 1.0, "J&F": 1.0, "J_recall": 1.0}
    pred = gt.clone()
    pred[1:][pred[1:] == 2] = 0  # object 2 lost after the first frame (frame 0 is not scored)
    scores = j_and_f(pred, gt, tolerance=0)
    assert scores["J"] == pytest.approx(0.5) and scores["F"] == pytest.approx(0.5)
    assert scores["J&F"] == pytest.approx(0.5)
    assert scores["J_recall"] == pytest.approx(0.5)  # object 1: IoU 1 twice; object 2: IoU 0 twice
    pred = gt.clone()
    pred[2, 2:6, 2:4] = 0  # object 1 in frame 2: IoU 8/16 = 0.5, not above 0.5 -> recall 3/4
    assert j_and_f(pred, gt)["J_recall"] == pytest.approx(3 / 4)
