"""Video correspondence (seed003 Part B): label propagation and segmentation metrics; the CRW loss is
`replab.losses.crw`."""

from replab.video.metrics import boundary_f, j_and_f, region_j
from replab.video.propagate import propagate_labels, propagate_mask

__all__ = ["boundary_f", "j_and_f", "propagate_labels", "propagate_mask", "region_j"]
