"""The CURL / SAC-AE networks (seed001 §2.3): pixel encoder, tanh-Gaussian actor, double-Q critic.

Encoder: x/255 → Conv(C, 32, 3, s=2) → ReLU → (num_layers − 1) × [Conv(32, 32, 3, s=1) → ReLU] → flatten →
head → LayerNorm → optional tanh, head = `linear` (the reference code, default) or `mlp` (the thesis's
pseudo-code, hidden 1024); `tanh=False` is the reference code's `output_logits=True` (§2.3 [!]).
The actor's encoder shares (ties) the critic's conv layers and has its own head + LayerNorm; the actor calls
it with `detach=True`, so the actor loss never trains the convs ([R], §2.8).
Init [R]: orthogonal Linear (bias 0); delta-orthogonal conv (centre tap orthogonal, ReLU gain).
Layout: the convs run in channels-last memory format (`channels_last=True`, default): the same convolutions
and values up to float rounding, about 1.5× faster with oneDNN on CPU; `channels_last=False` is the plain
NCHW layout. Channels-last flattens the conv output as (H, W, C), a view, and stores the head's first
weight with its columns in that (H, W, C) order (permuted once at construction, not at every call); its
`state_dict` gives and takes the NCHW (C, H, W) order, so state_dicts of both layouts are exchangeable.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

HEADS = ("linear", "mlp")


def _hwc_columns(w: Tensor, chw: tuple[int, int, int]) -> Tensor:
    """(O, C·H·W) with columns in (C, H, W) order → the same weight with columns in (H, W, C) order (a copy)."""
    c, h, ww = chw
    return w.reshape(-1, c, h, ww).permute(0, 2, 3, 1).reshape(w.shape[0], -1)


def _chw_columns(w: Tensor, chw: tuple[int, int, int]) -> Tensor:
    """The inverse of `_hwc_columns`."""
    c, h, ww = chw
    return w.reshape(-1, h, ww, c).permute(0, 3, 1, 2).reshape(w.shape[0], -1)


def _head_to_chw(module, state_dict, prefix, local_metadata) -> None:
    """state_dict post-hook: the head's first weight in the NCHW column order (both layouts agree)."""
    key = prefix + module._head_key
    if key in state_dict:
        state_dict[key] = _chw_columns(state_dict[key].detach(), module._conv_chw)


def _head_to_hwc(module, state_dict, prefix, *args) -> None:
    """load_state_dict pre-hook: NCHW column order → the channels-last storage order."""
    key = prefix + module._head_key
    w = state_dict.get(key)
    if w is not None and w.numel() == module._first_linear().weight.numel():  # else: the usual size error
        state_dict[key] = _hwc_columns(w, module._conv_chw)


def weight_init(m: nn.Module) -> None:
    """Orthogonal Linear; delta-orthogonal Conv2d (reference `weight_init`)."""
    if isinstance(m, nn.Linear):
        nn.init.orthogonal_(m.weight)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        nn.init.zeros_(m.weight)
        nn.init.zeros_(m.bias)
        mid = m.weight.shape[2] // 2
        nn.init.orthogonal_(m.weight[:, :, mid, mid], nn.init.calculate_gain("relu"))


class PixelEncoder(nn.Module):
    """(B, C, H, W) uint8 or float in [0, 255] → (B, feature_dim)."""

    def __init__(
        self,
        obs_shape: tuple[int, int, int],
        *,
        feature_dim: int = 50,
        num_layers: int = 4,
        num_filters: int = 32,
        head: str = "linear",
        tanh: bool = False,
        convs: nn.Sequential | None = None,
        channels_last: bool = True,
    ):
        super().__init__()
        if len(obs_shape) != 3:
            raise ValueError(f"obs_shape must be (C, H, W), got {obs_shape}")
        if num_layers < 1 or num_filters < 1 or feature_dim < 1:
            raise ValueError(
                f"num_layers, num_filters, feature_dim must be >= 1, got {num_layers}, {num_filters}, {feature_dim}"
            )
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        if convs is None:
            # in-place ReLUs: the conv backward needs its input, not its output, so this is exact
            layers: list[nn.Module] = [
                nn.Conv2d(obs_shape[0], num_filters, 3, stride=2),
                nn.ReLU(inplace=True),
            ]
            for _ in range(num_layers - 1):
                layers += [nn.Conv2d(num_filters, num_filters, 3, stride=1), nn.ReLU(inplace=True)]
            convs = nn.Sequential(*layers, nn.Flatten())
        self.convs = convs
        with torch.no_grad():
            self._conv_chw = tuple(self.convs[:-1](torch.zeros(1, *obs_shape)).shape[1:])
            n = self.convs(torch.zeros(1, *obs_shape)).shape[1]
        if n < 1:
            raise ValueError(f"obs_shape {obs_shape} is too small for {num_layers} conv layers")
        if head == "linear":
            self.head = nn.Linear(n, feature_dim)
        else:
            self.head = nn.Sequential(nn.Linear(n, 1024), nn.ReLU(), nn.Linear(1024, feature_dim))
        self.norm = nn.LayerNorm(feature_dim)
        self.tanh, self.feature_dim, self.obs_shape = tanh, feature_dim, tuple(obs_shape)
        self.conv_out = n
        self.apply(weight_init)
        self.channels_last = channels_last
        if channels_last:
            self.convs.to(memory_format=torch.channels_last)
            first = self._first_linear()
            with torch.no_grad():  # the same initial values, stored in the (H, W, C) order of the flatten
                first.weight.copy_(_hwc_columns(first.weight, self._conv_chw))
            self._head_key = "head.weight" if isinstance(self.head, nn.Linear) else "head.0.weight"
            self.register_state_dict_post_hook(_head_to_chw)
            self.register_load_state_dict_pre_hook(_head_to_hwc)

    def _first_linear(self) -> nn.Linear:
        return self.head if isinstance(self.head, nn.Linear) else self.head[0]

    def tied(self) -> PixelEncoder:
        """A new encoder with the same conv modules (tied weights) and its own head + LayerNorm."""
        head = "linear" if isinstance(self.head, nn.Linear) else "mlp"
        return PixelEncoder(
            self.obs_shape,
            feature_dim=self.feature_dim,
            head=head,
            tanh=self.tanh,
            convs=self.convs,
            channels_last=self.channels_last,
        )

    def prepare(self, obs: Tensor) -> Tensor:
        """(B, C, H, W) in [0, 255] (uint8 or float) → the convs' input x/255, float32 in the layout's memory
        format: one copy, never in place on obs. Compute it once for an obs that several passes read
        (`conv_features(x, prepared=True)`), e.g. the actor's and the target critic's passes on next_obs."""
        if not self.channels_last:
            return obs.to(dtype=torch.float32, copy=True).div_(255.0)
        if obs.dtype == torch.uint8:  # transpose the 1-byte values, then widen: the same values, 2× cheaper
            return obs.contiguous(memory_format=torch.channels_last).to(torch.float32).div_(255.0)
        return obs.to(dtype=torch.float32, memory_format=torch.channels_last, copy=True).div_(255.0)

    def conv_features(self, obs: Tensor, *, prepared: bool = False) -> Tensor:
        """(B, C, H, W) in [0, 255] → (B, conv_out): x/255 through the conv stack, flattened in the
        layout's own order (NCHW: (C, H, W); channels-last: (H, W, C), a view, no copy).
        `prepared=True`: obs is already `prepare(obs)`."""
        x = obs if prepared else self.prepare(obs)
        if not self.channels_last:
            return self.convs(x)
        for layer in self.convs[:-1]:  # all but the final Flatten
            x = layer(x)
        return x.permute(0, 2, 3, 1).flatten(1)

    def forward(self, obs: Tensor, detach: bool = False, conv: Tensor | None = None) -> Tensor:
        """(B, feature_dim). `conv`: this obs's `conv_features`, already computed (the convs are skipped)."""
        if conv is not None:
            h = conv.detach() if detach else conv
        elif detach:  # stop the gradient before the convs (the actor's loss, §2.8): no graph is built
            with torch.no_grad():
                h = self.conv_features(obs)
        else:
            h = self.conv_features(obs)
        z = self.norm(self.head(h))
        return torch.tanh(z) if self.tanh else z


class StateEncoder(nn.Module):
    """The identity on low-dimensional states (B, D) → (B, D) for State SAC."""

    def __init__(self, dim: int):
        super().__init__()
        self.feature_dim, self.convs = dim, nn.Sequential()

    def tied(self) -> StateEncoder:
        return StateEncoder(self.feature_dim)

    def prepare(self, obs: Tensor) -> Tensor:
        return obs.float()

    def conv_features(self, obs: Tensor, *, prepared: bool = False) -> Tensor:
        return obs if prepared else obs.float()

    def forward(self, obs: Tensor, detach: bool = False, conv: Tensor | None = None) -> Tensor:
        return conv if conv is not None else obs.float()


def mlp(inp: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inp, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, out)
    )


class Actor(nn.Module):
    """π(a|o) = tanh(μ + σ ξ); log σ = tanh(·) rescaled into [log_std_min, log_std_max] ([R]: [−10, 2])."""

    def __init__(self, encoder: nn.Module, action_dim: int, hidden: int = 1024, log_std=(-10.0, 2.0)):
        super().__init__()
        self.encoder, self.log_std_min, self.log_std_max = encoder, *log_std
        self.trunk = mlp(encoder.feature_dim, hidden, 2 * action_dim)
        self.trunk.apply(weight_init)

    def forward(
        self, obs: Tensor, detach_encoder: bool = False, sample: bool = True, conv: Tensor | None = None
    ):
        """(mu, action, log_prob (B, 1) or None, log_std) with mu and action tanh-squashed, (B, A).
        `conv`: precomputed conv features of obs (see `PixelEncoder.forward`)."""
        mu, log_std = self.trunk(self.encoder(obs, detach=detach_encoder, conv=conv)).chunk(2, dim=-1)
        log_std = torch.tanh(log_std)
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (log_std + 1)
        if not sample:
            return torch.tanh(mu), None, None, log_std
        noise = torch.randn_like(mu)
        u = mu + noise * log_std.exp()
        log_pi = (-0.5 * noise.pow(2) - log_std).sum(-1, keepdim=True) - 0.5 * math.log(
            2 * math.pi
        ) * mu.shape[-1]
        a = torch.tanh(u)
        log_pi = log_pi - torch.log(torch.relu(1 - a.pow(2)) + 1e-6).sum(
            -1, keepdim=True
        )  # squash correction
        return torch.tanh(mu), a, log_pi, log_std


class Critic(nn.Module):
    """Q1, Q2 heads on the shared encoder: (B, F + A) → (B, 1) each."""

    def __init__(self, encoder: nn.Module, action_dim: int, hidden: int = 1024):
        super().__init__()
        self.encoder = encoder
        self.q1 = mlp(encoder.feature_dim + action_dim, hidden, 1)
        self.q2 = mlp(encoder.feature_dim + action_dim, hidden, 1)
        self.q1.apply(weight_init)
        self.q2.apply(weight_init)

    def forward(self, obs: Tensor, action: Tensor, detach_encoder: bool = False, conv: Tensor | None = None):
        h = torch.cat([self.encoder(obs, detach=detach_encoder, conv=conv), action], dim=-1)
        return self.q1(h), self.q2(h)
