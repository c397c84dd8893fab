"""Zero-shot structured pruning (PRUNE §3.2): identity at ratio 0, embedding kept (filter) or shrunk
(channel), masks equal the physical removal, magnitude ranking."""

import copy

import pytest
import torch
from torch import nn

from replab.continual.pruning import embedding_size, prune_masks, remove_pruned, zero_shot_prune
from replab.nn.count import flops
from replab.nn.resnet import ResNet

SHAPE = (1, 16, 16)


def _net(classes=0):
    torch.manual_seed(0)
    net = ResNet(layers=(1, 2, 1), widths=(8, 16, 32), in_channels=1, num_classes=classes, stem="cifar",
                 stem_channels=8)  # fmt: skip
    net.train()
    with torch.no_grad():  # non-trivial batch-norm statistics, as in a pretrained model
        for _ in range(3):
            net(torch.randn(16, *SHAPE))
    return net.eval()


X = torch.randn(6, *SHAPE, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("mode", ["filter", "channel"])
def test_ratio_zero_is_the_identity(mode):
    net = _net(5)
    out = zero_shot_prune(net, mode, 0.0)
    assert [p.shape for p in out.parameters()] == [p.shape for p in net.parameters()]
    # the same modules' operations on the same inputs; tolerance 1e-6 for a copy run elsewhere in memory
    torch.testing.assert_close(out(X), net(X), rtol=0, atol=1e-6)
    assert flops(out, SHAPE) == flops(net, SHAPE)


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.9])
def test_filter_pruning_keeps_the_embedding_and_channel_pruning_shrinks_it(ratio):
    net = _net()
    filt, chan = zero_shot_prune(net, "filter", ratio), zero_shot_prune(net, "channel", ratio)
    assert embedding_size(filt) == embedding_size(net) == 128 and filt(X).shape == (6, 128)
    kept = 128 - int(ratio * 128)
    assert embedding_size(chan) == kept and chan(X).shape == (6, kept)
    block = filt.layer2[0]
    assert (
        block.conv1.out_channels == 16 - int(ratio * 16) == block.conv2.in_channels == block.bn1.num_features
    )
    assert block.conv3.out_channels == 128 // 2  # layer2's residual stream: 4 × 16
    assert flops(filt, SHAPE) < flops(net, SHAPE) and flops(chan, SHAPE) < flops(net, SHAPE)


@pytest.mark.parametrize("mode", ["filter", "channel"])
def test_physical_removal_equals_the_masked_network(mode):
    net = _net(5)
    masked = prune_masks(copy.deepcopy(net), mode, 0.5)
    with torch.no_grad():
        want = masked(X)
    got = remove_pruned(masked)
    assert not any(n.endswith("_mask") or n.endswith("_orig") for n, _ in got.named_buffers())
    assert not any(n.endswith("_orig") for n, _ in got.named_parameters())
    # a masked channel is exactly 0 after its norm; the sums differ only in order: tolerance 1e-5
    torch.testing.assert_close(got(X), want, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(got(X), net(X), atol=1e-3)  # and pruning did change the function


def test_filters_with_the_smallest_l1_norm_are_removed():
    net = _net()
    conv = net.layer1[0].conv2
    scores = conv.weight.detach().abs().sum((1, 2, 3))
    keep = set(torch.topk(scores, 4).indices.tolist())  # ratio 0.5 of 8 filters
    pruned = zero_shot_prune(net, "filter", 0.5)
    kept_rows = pruned.layer1[0].conv2.weight.detach()
    original = conv.weight.detach()[:, [i for i in range(8) if i in set(_kept_inputs(net, pruned))]]
    matches = {i for i in keep if any(torch.allclose(original[i], r) for r in kept_rows)}
    assert matches == keep


def _kept_inputs(net, pruned):
    """Indices of conv1's filters the pruned block kept (matched by their weights)."""
    w, pw = net.layer1[0].conv1.weight.detach(), pruned.layer1[0].conv1.weight.detach()
    return [i for i in range(len(w)) if any(torch.equal(w[i], r) for r in pw)]


def test_the_original_model_is_untouched():
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    zero_shot_prune(net, "channel", 0.5)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_bad_inputs():
    with pytest.raises(ValueError, match="ratio must be in"):
        zero_shot_prune(_net(), "filter", 1.0)
    with pytest.raises(ValueError, match="mode must be one of"):
        zero_shot_prune(_net(), "weights", 0.5)
    with pytest.raises(ValueError, match="Bottleneck"):
        zero_shot_prune(nn.Sequential(nn.Conv2d(1, 2, 3)), "filter", 0.5)
