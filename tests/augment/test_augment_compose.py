"""Compose, from_spec (RAD's "crop-rotate-flip" spelling) and the Augment module."""

import pytest
import torch

import replab.augment as A


def batch(B=8, C=9, H=100, W=100, seed=0):
    return torch.randint(
        0, 256, (B, C, H, W), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8
    )


def test_from_spec_builds_rads_chain_with_rads_order():
    aug = A.from_spec("crop-rotate-flip")
    assert aug.names == ["crop", "rotate", "flip"]
    x = batch()
    out, params = aug(x, generator=torch.Generator().manual_seed(0), frames=3, return_params=True)
    assert out.shape == (8, 9, 84, 84) and len(params) == 3
    crop = A.random_crop(x, 84, generator=torch.Generator(), params=params[0])
    turned = A.random_rotate(crop, generator=torch.Generator(), params=params[1])
    assert torch.equal(out, A.random_flip(turned, generator=torch.Generator(), params=params[2]))
    # RAD's sample_rad applies crop/cutout/translate first, whatever the spelling order.
    assert A.from_spec("flip-cutout_color-crop").names == ["cutout_color", "crop", "flip"]
    assert A.from_spec("flip-crop", rad_order=False).names == ["flip", "crop"]


def test_from_spec_options_and_errors():
    aug = A.from_spec("crop-flip", crop_size=64, flip_p=1.0)
    x = batch(B=2)
    out, p = aug(x, generator=torch.Generator(), return_params=True)
    assert out.shape[-2:] == (64, 64) and p[1]["flip"].all()
    assert A.from_spec("cutout_color", cutout_color_max_cut=30).ops[0].keywords == {"max_cut": 30}
    with pytest.raises(ValueError, match="did you mean: crop.*known names: crop, translate"):
        A.from_spec("crop-cropp")
    with pytest.raises(ValueError, match="takes"):
        A.from_spec("crop", crop_sise=3)
    with pytest.raises(ValueError, match="not in the spec"):
        A.from_spec("crop", flip_p=0.2)
    with pytest.raises(ValueError, match="twice"):
        A.from_spec("flip-flip")
    with pytest.raises(ValueError, match=r"probability in \[0, 1\]"):
        A.from_spec("flip", flip_p=-0.1)(x, generator=torch.Generator())


def test_compose_replays_params_on_another_batch():
    # e.g. translate obs and next_obs with one placement (RAD's return_random_idxs flag)
    aug = A.from_spec("translate-flip")
    obs, next_obs = batch(seed=1), batch(seed=2)
    g = torch.Generator().manual_seed(0)
    _, params = aug(obs, generator=g, return_params=True)
    same, again = aug(next_obs, generator=g, params=params, return_params=True)
    assert torch.equal(again[0]["top"], params[0]["top"]) and torch.equal(again[1]["flip"], params[1]["flip"])
    with pytest.raises(ValueError, match="one per op"):
        aug(next_obs, generator=g, params=params[:1])


def test_augment_module_is_random_in_training_and_centred_in_eval():
    aug = A.Augment("crop-flip", frames=3, seed=0)
    x = batch()
    a, b = aug(x), aug(x)
    assert a.shape == (8, 9, 84, 84) and not torch.equal(a, b)
    aug.eval()
    assert torch.equal(aug(x), A.center_crop(x, 84))
    canvas = A.Augment("translate", translate_size=110).eval()
    assert torch.equal(canvas(x), A.center_translate(x, 110))
    assert torch.equal(A.Augment("no_aug")(x), x)


def test_augment_module_state_dict_restores_the_generator():
    x = batch(B=4)
    first = A.Augment("crop", generator=torch.Generator().manual_seed(3))
    first(x)
    state = first.state_dict()
    expect = first(x)
    second = A.Augment("crop", seed=99)
    second.load_state_dict(state)
    assert torch.equal(second(x), expect)
    with pytest.raises(ValueError, match="frames must be"):
        A.Augment("crop", frames=0)
