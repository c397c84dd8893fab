"""The thesis's modified ResNet-18 (seed003 B.3, Table 3.4): strides, feature sizes, parameter count."""

import pytest
import torch

from replab.losses.crw import crw_loss
from replab.video.crw_model import clip_nodes, make_encoder
from replab.video.resnet import ResNet18Encoder


def test_table_3_4_shapes_and_strides():
    enc = ResNet18Encoder(width=8, embed_dim=16).eval()
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        feats = enc.feature_map(x)
        assert feats.shape == (2, 32, 8, 6)  # res3: 4·width channels at stride 8 (res3 stride 1, not 2)
        res4 = enc.res4(feats)
        assert res4.shape == (2, 64, 8, 6)  # res4 keeps the resolution too
        nodes = enc(torch.randn(5, 3, 16, 16))
    assert nodes.shape == (5, 16)
    torch.testing.assert_close(nodes.norm(dim=-1), torch.ones(5), atol=1e-5, rtol=0)


def test_parameter_count_is_resnet18s():
    """The trunk at width 64 has exactly torchvision's resnet18 parameters without its classifier
    (11,689,512 − 512·1000 − 1000 = 11,176,512): changing strides adds no weight; the head is 512·128 + 128."""
    enc = ResNet18Encoder(width=64, embed_dim=128)
    trunk = sum(p.numel() for n, p in enc.named_parameters() if not n.startswith("head"))
    assert trunk == 11_689_512 - 513_000
    assert sum(p.numel() for p in enc.head.parameters()) == 512 * 128 + 128


def test_trains_with_the_walk_and_bad_names():
    enc = make_encoder("resnet18", 4, 8)
    clips = torch.randn(2, 3, 3, 32, 32)
    loss, _ = crw_loss(clip_nodes(enc, clips, psize=16), tau=0.07)
    loss.backward()
    assert all(p.grad is not None for p in enc.parameters())
    with pytest.raises(ValueError, match="encoder"):
        make_encoder("vit", 4, 8)
    with pytest.raises(ValueError, match="padding_mode"):
        ResNet18Encoder(padding_mode="circular")
