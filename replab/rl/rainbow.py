"""Rainbow (Hessel et al. 2018) in its data-efficient configuration (van Hasselt et al. 2019, as used by
CURL, seed001 §2.4 Table 3.4), every component a flag, so `DQN` is the same class with them off.

Components and flags: distributional C51 (`distributional`, Bellemare et al. 2017), dueling (`dueling`),
double Q (`double`, van Hasselt et al. 2016), noisy nets (`noisy`, Fortunato et al. 2018), n-step
returns and prioritized replay (these two live in `FrameReplay`: `n_step`, `prioritized`).

Optimisation (one Adam, `lr`, `adam_eps`, gradients clipped to norm `grad_clip`): the loss is
mean_i(w_i · ℓ_i) + Σ coef · aux.loss(batch), where ℓ_i is the C51 cross-entropy to the projected
target distribution (or the Huber TD error without `distributional`) and w_i the importance weights.
The optimizer steps the online network's encoder and head and every auxiliary objective's
`parameters()` (CURL: its projection head and W). The target network is never optimised: it is a copy
of the online network every `target_update` updates; its outputs (and the double-Q action choice) are
computed under no-grad. Auxiliary objectives' key encoders are updated by `aux.update_key_encoder()`
after each step. `last_priorities` holds the per-sample losses ℓ_i for `FrameReplay.update_priorities`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replab.rl.agent import Shadow, aux_shadows, sync_optimizers, unique
from replab.rl.qnet import ENCODERS, QHead, QNetwork, Scale, feature_dim


@dataclass
class RainbowConfig:
    """Data-Efficient Rainbow's settings (CURL Table 3.4) as defaults; DQN turns the flags off."""

    distributional: bool = True
    """C51 distributional head and loss."""
    atoms: int = 51
    """Support size of the return distribution."""
    v_min: float = -10.0
    v_max: float = 10.0
    dueling: bool = True
    double: bool = True
    """Double Q: the online network picks the next action, the target network evaluates it."""
    noisy: bool = True
    """Noisy linear layers for exploration (no ε-greedy)."""
    noisy_sigma0: float = 0.1
    """σ0 of the noisy layers (Table 3.4: 'Noisy nets parameter 0.1')."""
    encoder: str = "der"
    """Conv stack: der (5×5 stride 5 ×2), nature (Mnih et al. 2015) or minatar (one 3×3 conv)."""
    hidden: int = 256
    obs_scale: float = 1 / 255
    """Multiplier from stored uint8 to network input (1/255 for Atari pixels, 1 for MinAtar's 0/1)."""
    lr: float = 1e-4
    adam_eps: float = 1.5e-5
    """Adam ε: the thesis's 0.000015 (Table 3.4); the reference code uses 1.5e-4 [!]."""
    grad_clip: float = 10.0
    target_update: int = 2000
    """Updates between target-network copies."""
    epsilon_start: float = 1.0
    """ε-greedy exploration, used only without noisy nets: linear from start to end over decay steps."""
    epsilon_end: float = 0.01
    epsilon_decay: int = 5000
    huber: bool = True
    """Non-distributional loss: Huber (Mnih et al. 2015's error clipping) or squared error."""
    channels_last: bool | None = None
    """Convolutions in channels-last memory format (the same arithmetic, faster oneDNN kernels on CPU;
    float round-off differs from NCHW in the last bits). None: on for the 84×84 stacks (der, nature),
    off for minatar (slower there)."""

    def __post_init__(self):
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {sorted(ENCODERS)}, got {self.encoder!r}")
        if self.distributional and self.atoms < 2:
            raise ValueError(f"atoms must be >= 2 for a distributional head, got {self.atoms}")
        if self.v_min >= self.v_max:
            raise ValueError(f"v_min must be < v_max, got {self.v_min} >= {self.v_max}")
        if self.lr <= 0 or self.adam_eps <= 0 or self.grad_clip <= 0:
            raise ValueError(
                f"lr, adam_eps, grad_clip must be > 0, got {self.lr}, {self.adam_eps}, {self.grad_clip}"
            )
        if self.target_update < 1:
            raise ValueError(f"target_update must be >= 1, got {self.target_update}")
        if not 0 <= self.epsilon_end <= self.epsilon_start <= 1:
            raise ValueError(
                f"need 0 <= epsilon_end <= epsilon_start <= 1, got {self.epsilon_end}, {self.epsilon_start}"
            )
        if self.channels_last is None:
            self.channels_last = self.encoder != "minatar"


def dqn_config(**overrides) -> RainbowConfig:
    """DQN (Mnih et al. 2015) as a `RainbowConfig`: no C51, dueling, double Q or noise; ε-greedy, Huber."""
    base = dict(distributional=False, dueling=False, double=False, noisy=False)
    return RainbowConfig(**{**base, **overrides})


def project_distribution(probs: Tensor, returns: Tensor, discounts: Tensor, support: Tensor) -> Tensor:
    """C51's projection Φ of the target distribution (Bellemare et al. 2017, Algorithm 1).

    Atom z_j of `probs` (B, N) moves to T z_j = clamp(R + d·z_j, V_min, V_max) with `returns` R (B,) and
    `discounts` d (B,) (γ^n, 0 at terminals); its mass is split between the two nearest atoms of
    `support` (N,) in proportion to closeness. Returns (B, N), rows summing to 1.
    """
    n = support.numel()
    v_min, v_max = float(support[0]), float(support[-1])
    dz = (v_max - v_min) / (n - 1)
    tz = (returns[:, None] + discounts[:, None] * support[None, :]).clamp(v_min, v_max)
    b = (tz - v_min) / dz
    lo, hi = b.floor().long().clamp(0, n - 1), b.ceil().long().clamp(0, n - 1)
    m_lo = probs * (hi.to(probs.dtype) - b)
    m_hi = probs * (b - lo.to(probs.dtype))
    m_lo = m_lo + probs * (lo == hi).to(probs.dtype)  # T z_j exactly on an atom: all of its mass there
    out = torch.zeros_like(probs)
    out.scatter_add_(1, lo, m_lo)
    out.scatter_add_(1, hi, m_hi)
    return out


class ChannelsLastScale(Scale):
    """`Scale` that also lays the batch out channels-last (before the float conversion: 4× less to copy)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.contiguous(memory_format=torch.channels_last))


def clip_grad_norm(params: list[Tensor], max_norm: float) -> Tensor:
    """`torch.nn.utils.clip_grad_norm_` (2-norm, foreach kernels, the same arithmetic: coefficient
    max_norm / (norm + 1e-6) clamped to 1) for parameters on one device, without its per-call grouping
    of tensors by device and dtype. Returns the total norm before clipping."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
    torch._foreach_mul_(grads, (max_norm / (total + 1e-6)).clamp_(max=1.0))
    return total


def _pick(out: Tensor, action: Tensor) -> Tensor:
    """`out[i, action[i]]` for Q-values `(B, A)` → `(B,)` or logits `(B, A, N)` → `(B, N)` (one gather)."""
    index = action.view(-1, 1, *([1] * (out.dim() - 2))).expand(-1, 1, *out.shape[2:])
    return out.gather(1, index).squeeze(1)


class Rainbow:
    """A value-based agent of the agent protocol (`replab.rl.agent`): `act(obs, explore=...)`,
    `update(batch, step) -> metrics`.

    `obs_shape` is the stacked observation `(C, H, W)`; `aux` are auxiliary objectives (e.g. `CURL`)
    with their loss coefficients, as [(objective, coef), ...] (more with `add_aux`).
    """

    initializer = None
    """Re-drawn weights use each layer's own `reset_parameters` (PyTorch's default; Fortunato et al.'s for
    noisy layers): the initialisers the networks are built with."""

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        n_actions: int,
        cfg: RainbowConfig | None = None,
        *,
        aux: list | None = None,
        device: str | torch.device = "cpu",
        generator: torch.Generator | None = None,
        rng: np.random.Generator | None = None,
    ):
        self.cfg = cfg = cfg or RainbowConfig()
        self.n_actions, self.device = n_actions, torch.device(device)
        self.generator = generator  # noise of the noisy layers
        self.rng = rng if rng is not None else np.random.default_rng(0)  # ε-greedy
        scale = ChannelsLastScale(cfg.obs_scale) if cfg.channels_last else Scale(cfg.obs_scale)
        encoder = nn.Sequential(scale, *ENCODERS[cfg.encoder](obs_shape[0]))
        head = QHead(
            feature_dim(encoder, obs_shape),
            n_actions,
            hidden=cfg.hidden,
            atoms=cfg.atoms if cfg.distributional else 1,
            dueling=cfg.dueling,
            noisy=cfg.noisy,
            sigma0=cfg.noisy_sigma0,
        )
        self.online = QNetwork(encoder, head).to(self.device)
        if cfg.channels_last:
            self.online.to(memory_format=torch.channels_last)  # the conv weights (4-d tensors only)
        self.target = copy.deepcopy(self.online)
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.support = torch.linspace(cfg.v_min, cfg.v_max, cfg.atoms, device=self.device)
        self.aux = list(aux or [])
        self.acted = 0
        self.updates = 0
        self.last_priorities: Tensor | None = None
        self.reset_optimizer()

    def reset_optimizer(self) -> None:
        """(Re)build Adam, with no state, over the online network and the auxiliary objectives."""
        params = self.owned_parameters()["optimizer"]
        try:  # the fused kernel is several times faster on CPU for these small networks
            self.optimizer = torch.optim.Adam(params, lr=self.cfg.lr, eps=self.cfg.adam_eps, fused=True)
        except (RuntimeError, TypeError):
            self.optimizer = torch.optim.Adam(params, lr=self.cfg.lr, eps=self.cfg.adam_eps)

    # -- the agent protocol (replab.rl.agent) -----------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {"online": self.online}

    def parts(self) -> dict[str, list[str]]:
        return {"encoder": ["online.encoder"], "head": ["online.head"]}

    def shadows(self) -> list[Shadow]:
        """The target network (a copy every `target_update` updates) and the auxiliary objectives' key
        networks (CURL: an EMA of the encoder and projection)."""
        own = Shadow(self.online, self, "target", "copy", period=self.cfg.target_update)
        return [own, *aux_shadows(self.aux)]

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def owned_parameters(self) -> dict[str, list[nn.Parameter]]:
        """One Adam steps the online network and every auxiliary objective's parameters."""
        return {
            "optimizer": unique(
                [*self.online.parameters(), *(p for o, _ in self.aux for p in o.parameters())]
            )
        }

    def add_aux(self, objective, coef: float = 1.0) -> None:
        """Attach an auxiliary objective; its parameters join the optimiser (the others keep their state)."""
        self.aux.append((objective, coef))
        sync_optimizers(self)

    def view(self, obs: Tensor) -> Tensor:
        """Stored observations are the network's input (its encoder scales them)."""
        return obs

    @torch.no_grad()
    def trace(self, batch) -> None:
        self.online(batch.obs)

    def on_change(self) -> None:
        """Nothing cached: the update reads the optimiser's param groups and `self.target` each time."""

    # -- acting ---------------------------------------------------------------------------------------
    def q_values(self, net: QNetwork, obs: Tensor) -> Tensor:
        """Expected Q `(B, A)` (the mean of the return distribution for C51)."""
        return self._expected(net(obs))

    def _expected(self, out: Tensor) -> Tensor:
        return (out.softmax(-1) * self.support).sum(-1) if self.cfg.distributional else out

    def epsilon(self) -> float:
        cfg = self.cfg
        if cfg.noisy:
            return 0.0
        frac = min(1.0, self.acted / max(1, cfg.epsilon_decay))
        return cfg.epsilon_start + frac * (cfg.epsilon_end - cfg.epsilon_start)

    @torch.inference_mode()
    def act(self, obs, *, explore: bool) -> int:
        """Greedy action for one observation `(C, H, W)`; `explore`: noisy layers sample fresh noise (or
        ε-greedy without them); otherwise noisy layers are in eval mode (their means, no noise)."""
        if explore:
            eps = self.epsilon()
            self.acted += 1
            if eps > 0 and self.rng.random() < eps:
                return int(self.rng.integers(self.n_actions))
        obs = obs if isinstance(obs, Tensor) else torch.from_numpy(np.ascontiguousarray(obs))
        obs = obs.to(self.device).unsqueeze(0)
        if not self.cfg.noisy:  # no layer depends on train/eval mode
            return int(self.q_values(self.online, obs).argmax(1))
        if explore:  # train mode (noise on) is the network's resting state; module.train() walks every layer
            if not self.online.training:
                self.online.train(True)
            self.online.reset_noise(self.generator)
            return int(self.q_values(self.online, obs).argmax(1))
        self.online.train(False)
        q = self.q_values(self.online, obs)
        self.online.train(True)
        return int(q.argmax(1))

    # -- learning -------------------------------------------------------------------------------------
    def _td_loss(self, batch) -> Tensor:
        """Per-sample loss ℓ_i (B,)."""
        n = batch.obs.shape[0]
        if self.cfg.double:  # one online pass over obs and next_obs (same noise): next_obs only picks actions
            both = self.online(torch.cat([batch.obs, batch.next_obs]))
            out, next_online = both[:n], both[n:].detach()
        else:
            out = self.online(batch.obs)
        with torch.no_grad():
            next_target = self.target(batch.next_obs)
            if self.cfg.double:
                next_a = self._expected(next_online).argmax(1)
            else:
                next_a = self._expected(next_target).argmax(1)
        if self.cfg.distributional:
            log_p = _pick(out, batch.action).log_softmax(-1)
            with torch.no_grad():
                p_next = _pick(next_target, next_a).softmax(-1)
                m = project_distribution(p_next, batch.reward, batch.discount, self.support)
            return -(m * log_p).sum(-1)  # cross-entropy; its minimiser is the KL's (C51 eq. 7)
        q = _pick(out, batch.action)
        target = batch.reward + batch.discount * _pick(next_target, next_a)
        loss = F.huber_loss if self.cfg.huber else F.mse_loss
        return loss(q, target, reduction="none")

    def update(self, batch, step: int) -> dict[str, float]:
        """One gradient step on `batch` (a `FrameReplay` batch); returns flat metrics."""
        if not self.online.training:  # act() leaves it in train mode; module.train() walks every layer
            self.online.train()
        if self.cfg.noisy:
            self.online.reset_noise(self.generator)
            self.target.reset_noise(self.generator)
        per_sample = self._td_loss(batch)
        rl_loss = (batch.weight * per_sample).mean()
        loss = rl_loss
        metrics = {"loss/td": float(rl_loss.detach())}
        for objective, coef in self.aux:
            aux_loss, aux_metrics = objective.loss(batch)
            loss = loss + coef * aux_loss
            metrics.update(aux_metrics)
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        for p in params:  # zero_grad(set_to_none=True) without its per-call profiler/hook machinery
            p.grad = None
        loss.backward()
        grad_norm = clip_grad_norm(params, self.cfg.grad_clip)
        self.optimizer.step()
        for objective, _ in self.aux:
            if hasattr(objective, "update_key_encoder"):
                objective.update_key_encoder()
        self.updates += 1
        if self.updates % self.cfg.target_update == 0:
            self.target.load_state_dict(self.online.state_dict())
        self.last_priorities = per_sample.detach()
        metrics["loss/total"] = float(loss.detach())
        metrics["train/grad_norm"] = float(grad_norm)
        return metrics

    def state_dict(self) -> dict:
        return {
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "aux": [o.state_dict() for o, _ in self.aux],
            "acted": self.acted,
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        for (o, _), s in zip(self.aux, state["aux"]):
            o.load_state_dict(s)
        self.acted, self.updates = state["acted"], state["updates"]


def DQN(obs_shape, n_actions, **kwargs) -> Rainbow:  # noqa: N802 (a named configuration of Rainbow)
    """DQN: `Rainbow` with `dqn_config()` (pair it with `FrameReplay(n_step=1, prioritized=False)`)."""
    cfg = kwargs.pop("cfg", None) or dqn_config()
    return Rainbow(obs_shape, n_actions, cfg, **kwargs)
