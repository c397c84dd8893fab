"""Video correspondence (seed003 Part B): label and keypoint propagation, segmentation metrics, PCK and
test-time adaptation; the CRW loss is `replab.losses.crw`."""

from replab.video.adapt import AdaptConfig, adapt_encoder, propagate_mask_adapted
from replab.video.keypoints import pck, propagate_keypoints
from replab.video.metrics import boundary_f, j_and_f, region_j
from replab.video.propagate import propagate_labels, propagate_mask

__all__ = [
    "AdaptConfig",
    "adapt_encoder",
    "propagate_mask_adapted",
    "boundary_f",
    "j_and_f",
    "pck",
    "propagate_keypoints",
    "propagate_labels",
    "propagate_mask",
    "region_j",
]
