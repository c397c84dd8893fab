"""`uniform_fan_in_` on Conv2d: the minatar networks of td-gain and corrected-momentum draw the same weights
as the hand-written conv initialisation they replaced (same generator, same order), to 1e-12."""

from types import SimpleNamespace

import torch
from torch import nn

from replab.experiments.bootstrapping._corrected_momentum_minatar import conv_value_net
from replab.experiments.bootstrapping._td_gain_tasks import minatar_net
from replab.nn.init import uniform_fan_in_


def _hand_conv(net: nn.Module, g: torch.Generator) -> None:
    """The replaced code: every Conv2d in module order, U(±1/√(in·kh·kw)), weight then bias."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                bound = 1 / (m.in_channels * m.kernel_size[0] * m.kernel_size[1]) ** 0.5
                m.weight.uniform_(-bound, bound, generator=g)
                m.bias.uniform_(-bound, bound, generator=g)


def _hand_linear(net: nn.Module, g: torch.Generator) -> None:
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):
                bound = 1 / m.in_features**0.5
                m.weight.uniform_(-bound, bound, generator=g)
                m.bias.uniform_(-bound, bound, generator=g)


def _assert_same(a: nn.Module, b: nn.Module) -> None:
    pa, pb = list(a.parameters()), list(b.parameters())
    assert len(pa) == len(pb)
    for x, y in zip(pa, pb, strict=True):
        torch.testing.assert_close(x.double(), y.double(), rtol=0, atol=1e-12)


def test_corrected_momentum_conv_value_net_draws_as_before():
    for depth, hidden, seed in ((2, 16, 0), (3, 8, 11)):
        new = conv_value_net(4, hidden, depth, seed)
        old = conv_value_net(4, hidden, depth, seed + 1)  # other draws, then overwritten as the old code did
        _hand_conv(old, torch.Generator().manual_seed(seed))
        _assert_same(new, old)
    assert not torch.equal(conv_value_net(4, 16, 2, 0)[0].weight, conv_value_net(4, 16, 2, 1)[0].weight)


def test_td_gain_minatar_net_draws_as_before():
    cfg = SimpleNamespace(minatar_net=(16, 128))
    for seed in (0, 5):
        new = minatar_net(cfg, seed)
        old = minatar_net(cfg, seed + 1)
        g = torch.Generator().manual_seed(seed)
        conv, bound = old[0], 1 / (4 * 9) ** 0.5  # the replaced code: the conv, then the Linears
        with torch.no_grad():
            conv.weight.uniform_(-bound, bound, generator=g)
            conv.bias.uniform_(-bound, bound, generator=g)
        _hand_linear(old, g)
        _assert_same(new, old)


def test_conv_bound_is_pytorch_default_fan_in():
    """The bound is 1/√(in_channels/groups · kh · kw): every draw inside it, the extremes near it."""
    conv = uniform_fan_in_(nn.Conv2d(6, 40, (3, 5), groups=2), torch.Generator().manual_seed(0))
    bound = 1 / (3 * 3 * 5) ** 0.5
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.95 * bound
