"""The hyper-grid reward decided in integers: symmetric under x → −x for every H, mode counts as stated."""

import pytest
import torch

from replab.gfn.hypergrid import HyperGrid


@pytest.mark.parametrize("H", [6, 8, 11, 16, 18])
def test_reward_is_symmetric_under_reflection(H):
    env = HyperGrid(2, H, 0.01)
    cells = env.cells()
    mirrored = (H - 1) - cells  # x → −x
    assert torch.equal(env.reward_of_cells(cells), env.reward_of_cells(mirrored))


@pytest.mark.parametrize("H", [6, 11, 16])
def test_band_edges_at_h_1_mod_5_count_the_same_on_both_sides(H):
    """H ≡ 1 (mod 5): x = ±0.6 exactly is on the band's open edge, so neither side is a mode."""
    env = HyperGrid(1, H, 0.01)
    x = env.to_x(env.cells())[:, 0]
    modes = env.mode_mask()
    edge = (x.abs() - 0.6).abs() < 1e-9
    assert edge.sum() == 2 and not modes[edge].any()
    assert modes.sum() % 2 == 0


@pytest.mark.parametrize(("n", "H", "modes"), [(2, 8, 4), (4, 8, 16), (2, 18, 16), (3, 18, 64)])
def test_mode_counts(n, H, modes):
    assert int(HyperGrid(n, H, 0.01).mode_mask().sum()) == modes
