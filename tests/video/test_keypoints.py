"""Keypoint propagation (seed003 B.2.7, pose) and PCK on hand-made cases."""

import pytest
import torch

from replab.video.keypoints import box_size, heatmap_positions, keypoint_heatmaps, pck, propagate_keypoints


def test_heatmap_splat_and_readout_invert_each_other():
    pts = torch.tensor([[5.3, 9.7], [12.0, 2.0], [20.9, 27.1]])  # stride 4 on 32x32: 8x8 cells
    heat = keypoint_heatmaps(pts, (8, 8), stride=4)
    torch.testing.assert_close(heat.sum((-2, -1)), torch.ones(3), atol=1e-6, rtol=0)
    # the 4 bilinear weights average back to the point (tolerance: float32 rounding)
    torch.testing.assert_close(heatmap_positions(heat, 4, readout_k=4), pts, atol=1e-4, rtol=0)
    # a point at a cell centre is one cell: the source's top-3 readout returns it exactly
    centre = torch.tensor([[(3 + 0.5) * 4, (6 + 0.5) * 4]])
    assert keypoint_heatmaps(centre, (8, 8), 4).count_nonzero() == 1
    torch.testing.assert_close(heatmap_positions(keypoint_heatmaps(centre, (8, 8), 4), 4), centre)


def test_static_video_reproduces_the_first_points():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(16, 8, 8, generator=g).expand(5, -1, -1, -1).clone()
    pts = torch.tensor([[5.3, 9.7], [12.0, 22.5], [26.2, 6.6]])
    # k = 1 + m: each node's top-k are its own copies, so the heatmaps (and the points) are reproduced
    out = propagate_keypoints(feats, pts, stride=4, readout_k=4, tau=0.07, k=3, m=2, radius=2)
    assert out.shape == (5, 3, 2)
    torch.testing.assert_close(out, pts.expand(5, -1, -1), atol=1e-4, rtol=0)
    assert pck(out, pts.expand(5, -1, -1), ref=10.0, alpha=0.01) == 1.0


def test_points_follow_a_translating_scene():
    """The scene slides one cell (4 px) left per frame with unique features per location: a point at a
    cell centre moves 4 px left per frame. Readout top-1: nodes of the new content entering at the right
    edge have no true match and pick up small spurious heatmap mass, which a top-3 average would mix in."""
    g = torch.Generator().manual_seed(1)
    t_len, h, w = 5, 8, 12
    scene = torch.randn(16, h, w + t_len, generator=g)
    feats = torch.stack([scene[:, :, t : t + w] for t in range(t_len)])
    p0 = torch.tensor([[3.5 * 4, 10.5 * 4], [6.5 * 4, 7.5 * 4]])
    out = propagate_keypoints(feats, p0, stride=4, readout_k=1, tau=0.05, k=3, m=2, radius=2)
    truth = torch.stack([p0 - torch.tensor([0.0, 4.0 * t]) for t in range(t_len)])
    torch.testing.assert_close(out, truth, atol=1e-3, rtol=0)


def test_pck_on_hand_made_tracks():
    gt = torch.zeros(3, 2, 2)
    pred = gt.clone()
    pred[1, 0] = torch.tensor([3.0, 4.0])  # distance 5
    pred[1, 1] = torch.tensor([0.0, 1.0])  # distance 1
    pred[2, 0] = torch.tensor([6.0, 8.0])  # distance 10
    pred[0] = 100.0  # frame 0 is given, never scored
    # ref 20: α = 0.1 -> radius 2: hits 1 (d=1) and frame-2 keypoint 1 (d=0): 2 of 4
    assert pck(pred, gt, ref=20.0, alpha=0.1) == pytest.approx(2 / 4)
    # α = 0.25 -> radius 5: d = 5 counts (≤): 3 of 4
    assert pck(pred, gt, ref=20.0, alpha=0.25) == pytest.approx(3 / 4)
    # per-(frame, keypoint) reference: keypoint 0 twice as large -> radius 10 at α = 0.25: 4 of 4
    ref = torch.tensor([[40.0, 20.0]] * 3)
    assert pck(pred, gt, ref=ref, alpha=0.25) == 1.0
    visible = torch.tensor([[True, True], [False, True], [True, True]])  # the d = 5 pair is hidden
    assert pck(pred, gt, ref=20.0, alpha=0.1, visible=visible) == pytest.approx(2 / 3)


def test_box_size_and_bad_input():
    m = torch.zeros(2, 10, 10, dtype=torch.bool)
    m[0, 2:5, 3:9] = True  # 3 rows x 6 cols
    assert box_size(m).tolist() == [6.0, 0.0]
    with pytest.raises(ValueError, match="pred and gt"):
        pck(torch.zeros(3, 2, 2), torch.zeros(3, 1, 2), ref=1.0)
    with pytest.raises(ValueError, match="stride"):
        keypoint_heatmaps(torch.zeros(1, 2), (4, 4), stride=0)


def test_masks_and_keypoints_propagate_jointly_as_separately():
    """Propagation weights do not depend on the labels: one label tensor holding the mask channels and the
    keypoint heatmaps gives the same masks and points as two separate propagations (crw-ablations' adapted
    run relies on it)."""
    import torch.nn.functional as F

    from replab.video.propagate import labels_from_mask, propagate_labels, propagate_mask

    g = torch.Generator().manual_seed(4)
    feats = torch.randn(5, 8, 8, 8, generator=g)
    mask = torch.zeros(32, 32, dtype=torch.long)
    mask[4:16, 8:20] = 1
    mask[18:30, 2:12] = 2
    pts = torch.tensor([[10.0, 14.0], [24.0, 7.0]])
    kw = dict(tau=0.07, k=6, m=2, radius=3.0)
    joint = propagate_labels(
        feats, torch.cat([labels_from_mask(mask, 3, (8, 8)), keypoint_heatmaps(pts, (8, 8), 4)]), **kw
    )
    masks = F.interpolate(joint[:, :3], size=(32, 32), mode="bilinear", align_corners=False).argmax(1)
    masks[0] = mask
    points = heatmap_positions(joint[:, 3:], 4)
    points[0] = pts
    # different computations (joint vs mask-only propagation): argmax masks may differ at a near-tied pixel
    agree = (masks == propagate_mask(feats, mask, **kw)).float().mean()
    assert agree >= 0.999
    torch.testing.assert_close(points, propagate_keypoints(feats, pts, 4, **kw), atol=1e-5, rtol=0)
