"""Parameter-matched read-write layouts (seed003 A.6, A.7 run 2: "at matched model size")."""

import dataclasses

import pytest

from replab.experiments.diffusion import rin_read_write as read_write
from replab.nn.rin import RIN, count_parameters, matched_mlp_ratio

TOL = 0.005
"""Matched layouts' parameter counts agree within 0.5% (the MLP hidden widths are integers)."""


@pytest.mark.parametrize(
    "preset",
    ["DEFAULT", "SMOKE", pytest.param("PAPER", marks=pytest.mark.slow)],  # PAPER: ~20M-param builds
)
def test_matched_layouts_have_the_same_parameter_count(preset):
    cfg = getattr(read_write, preset)
    assert cfg.match == "params"
    counts = {lay: count_parameters(cfg.model(1, 10, **cfg.arch(lay))) for lay in cfg.layouts}
    ref = counts[cfg.layouts[1]]  # the headline layout keeps the thesis's ×4 MLPs
    assert cfg.arch(cfg.layouts[1])["mlp_ratio"] == 4.0
    for lay, n in counts.items():
        assert abs(n - ref) / ref < TOL, (lay, n, ref)
    widths = dataclasses.replace(cfg, match="widths")
    unmatched = {lay: count_parameters(widths.model(1, 10, **widths.arch(lay))) for lay in cfg.layouts}
    assert max(unmatched.values()) / min(unmatched.values()) > 1.2  # what matching removes


def test_default_layouts_counts_and_ratios():
    """At the A.7 widths: 1×4 gets wider MLPs, 4×1 narrower ones, 2×2 keeps ×4 (870,100 parameters)."""
    cfg = read_write.DEFAULT
    r = {lay: cfg.arch(lay)["mlp_ratio"] for lay in cfg.layouts}
    assert r["1x4"] > 4.0 > r["4x1"] and r["2x2"] == 4.0
    assert count_parameters(cfg.model(1, 10, **cfg.arch("2x2"))) == 870_100


def test_matched_ratio_counts_agree_with_the_built_model():
    """matched_mlp_ratio recounts the blocks' MLPs in closed form; the built model must agree."""
    kw = dict(image_size=8, channels=1, patch=2, dim_x=24, dim_z=40, num_latents=4, heads=4, num_classes=10)
    for blocks, depth, target in ((1, 3, 150_000), (3, 1, 150_000), (2, 2, 90_000)):
        r = matched_mlp_ratio(target, blocks=blocks, depth=depth, **kw)
        n = count_parameters(RIN(blocks=blocks, depth=depth, mlp_ratio=r, **kw))
        assert abs(n - target) / target < TOL, (blocks, depth, r, n)
    with pytest.raises(ValueError, match="no MLP ratio"):
        matched_mlp_ratio(10, blocks=1, depth=1, **kw)


def test_match_fields_are_checked():
    with pytest.raises(ValueError, match="match must be one of"):
        dataclasses.replace(read_write.SMOKE, match="flops")
    with pytest.raises(ValueError, match="match_to must be one of the layouts"):
        dataclasses.replace(read_write.SMOKE, match_to="3x3")
    with pytest.raises(ValueError, match="mlp_ratio must be > 0"):
        RIN(mlp_ratio=0)
