"""The diffusion family's parts: config checks, equal-compute steps, the latent view, patch masks."""

import dataclasses

import pytest
import torch

from replab.experiments.diffusion import rin_adaptive_computation as adaptive
from replab.experiments.diffusion import rin_read_write as read_write
from replab.experiments.diffusion import rin_self_conditioning as self_cond
from replab.nn.rin import RIN, LatentView


def test_equal_compute_gives_rate_zero_more_steps():
    cfg = dataclasses.replace(self_cond.DEFAULT)
    assert cfg.steps_for(0.9) == cfg.steps
    assert cfg.steps_for(0.0) == round(cfg.steps * 3.9 / 3)  # (3 + 0.9) / 3 forward-pass equivalents
    assert dataclasses.replace(cfg, match="steps").steps_for(0.0) == cfg.steps


@pytest.mark.parametrize(
    "module,field,value,match",
    [
        (self_cond, "rate", 0.0, "rate must be in"),
        (self_cond, "match", "flops", "match must be one of"),
        (self_cond, "patch", 3, "patch must divide"),
        (self_cond, "schedule", "cosin", "schedule must be one of"),
        (read_write, "layouts", ("2x2",), "at least 2"),
        (read_write, "layouts", ("1x4", "2by2"), "not BxK"),
        (adaptive, "times", (1.0, 1.5), "times needs"),
    ],
)
def test_configs_name_the_bad_field(module, field, value, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(module.SMOKE, **{field: value})


def test_latent_view_reads_the_latents_per_token():
    torch.manual_seed(0)
    rin = RIN(
        image_size=8, channels=1, patch=2, dim_x=16, dim_z=32, num_latents=4, blocks=1, depth=1, num_classes=3
    )
    t, y = torch.rand(5), torch.tensor([0, 1, 2, 0, 1])
    view = LatentView(rin, t, y, self_condition=True)
    x = torch.randn(5, 1, 8, 8)
    out = view(x[:3])  # the monitor may keep fewer examples than the view holds
    _, z = rin(x[:3], t[:3], y[:3], prev_latents=torch.zeros(3, 4, 32))
    assert out.shape == (12, 32)
    torch.testing.assert_close(out, z.reshape(12, 32))  # same operations in the same order
    assert sum(p.numel() for p in view.parameters()) == sum(p.numel() for p in rin.parameters())


def test_patch_mask_marks_overlapping_patches():
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, 1, 2] = True  # pixel in patch (0, 1) of a 2×2 patch grid
    assert adaptive._patch_mask(mask, 2).tolist() == [[False, True, False, False]]
