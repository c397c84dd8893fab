"""The analytic FLOP counter (replab.nn.count) against hand counts and torch.utils.flop_counter."""

import copy

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from replab.continual.pruning import prune_masks, zero_shot_prune
from replab.nn.count import conv2d_flops, flops, linear_flops, train_flops
from replab.nn.resnet import ResNet

# torch's counter sees the same conv / addmm ops and also counts 2 FLOPs per multiply-add, bias adds not
# counted: the two should agree exactly; 0.1% is the stated tolerance so that a torch release counting an
# extra small op (e.g. a bias) does not break the check while any error in a layer's formula still does.
RTOL = 1e-3


def torch_flops(model: nn.Module, shape) -> int:
    model = copy.deepcopy(model).eval() if not _masked(model) else model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *shape))
    return counter.get_total_flops()


def _masked(model):
    return any(n.endswith("_mask") for n, _ in model.named_buffers())


def test_two_layer_net_matches_the_hand_count():
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    assert flops(net, (64,)) == 2 * (64 * 32 + 32 * 10) == linear_flops(64, 32) + linear_flops(32, 10)


def test_conv_net_matches_the_hand_formula():
    # conv 1→4, 3×3 pad 1 on 8×8 (out 8×8), then a strided conv 4→8, 3×3 stride 2 pad 1 (out 4×4), then linear
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 8, 3, 2, 1),
        nn.Flatten(),
        nn.Linear(8 * 16, 10),
    )
    hand = 2 * 9 * 1 * 4 * 64 + 2 * 9 * 4 * 8 * 16 + 2 * 128 * 10
    assert hand == conv2d_flops(1, 4, 3, (8, 8)) + conv2d_flops(4, 8, 3, (4, 4)) + linear_flops(128, 10)
    assert flops(net, (1, 8, 8)) == hand
    assert train_flops(net, (1, 8, 8), 5) == 3 * 5 * hand


def test_grouped_conv_hand_formula():
    net = nn.Conv2d(8, 8, 3, padding=1, groups=4, bias=False)
    assert flops(net, (8, 5, 5)) == conv2d_flops(8, 8, 3, (5, 5), groups=4) == 2 * 9 * 2 * 8 * 25


@pytest.mark.parametrize(
    "model, shape",
    [
        (nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)), (64,)),
        (
            ResNet(
                layers=(1, 1, 1),
                widths=(8, 16, 32),
                block="basic",
                in_channels=1,
                num_classes=5,
                stem="cifar",
                stem_channels=8,
            ),
            (1, 16, 16),
        ),  # fmt: skip
        (
            ResNet(
                layers=(1, 2), widths=(4, 8), in_channels=3, num_classes=7, stem="imagenet", stem_channels=8
            ),
            (3, 32, 32),
        ),  # fmt: skip
    ],
)
def test_counter_agrees_with_torch_flop_counter(model, shape):
    ours, theirs = flops(model, shape), torch_flops(model, shape)
    assert theirs > 0 and abs(ours - theirs) <= RTOL * theirs, (ours, theirs)


def _bottleneck():
    torch.manual_seed(0)
    return ResNet(
        layers=(1, 1, 1), widths=(8, 16, 32), in_channels=1, num_classes=0, stem="cifar", stem_channels=8
    )


@pytest.mark.parametrize("mode", ["filter", "channel"])
def test_pruned_networks_count_the_same_both_ways_and_the_saving_is_real(mode):
    dense = _bottleneck().eval()
    pruned = zero_shot_prune(dense, mode, 0.5)
    ours, theirs = flops(pruned, (1, 16, 16)), torch_flops(pruned, (1, 16, 16))
    assert abs(ours - theirs) <= RTOL * theirs
    # masks alone save nothing: the masked network still runs every multiply-add ...
    masked = prune_masks(copy.deepcopy(dense), mode, 0.5)
    assert torch_flops(masked, (1, 16, 16)) == torch_flops(dense, (1, 16, 16))
    # ... while the physically pruned one runs far fewer (filter: inner convs, about half; channel: less)
    assert theirs < (0.7 if mode == "filter" else 0.8) * torch_flops(dense, (1, 16, 16))


def test_train_flops_rejects_negative_examples():
    with pytest.raises(ValueError, match="examples must be >= 0"):
        train_flops(nn.Linear(2, 2), (2,), -1)
