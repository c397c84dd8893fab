"""SAC for state and pixel observations, with RAD augmentations and the CURL auxiliary loss
(Haarnoja et al. 2018; CURL seed001 §2.2–2.4; RAD §3.2). Defaults are CURL Table 3.3.

One `update(batch, step)`, in the reference order (§2.2 step 2):
  a. obs, next_obs ← aug(obs), aug(next_obs): independent draws from the augmentation spec (RAD; CURL
     uses "crop"); no spec = Pixel SAC / State SAC.
  b. critic: L = MSE(Q1, y) + MSE(Q2, y), y = r + discount · (min Q̄(o', a') − α log π(a'|o')), a' ~ π(o'),
     computed under no-grad with the target critic (EMA encoder + EMA heads). `discount` = γ^m (1 − terminal)
     from the replay, so time limits bootstrap (anchors §8). Gradients reach the critic's encoder.
  c. every `actor_update_freq` updates: actor loss E[α log π(a|o) − min Q(o, a)] with the actor's encoder
     detached before its (tied) convs and the critic's encoder detached; α loss E[α (−log π − H̄)·detach],
     H̄ = −|A|, α = exp(log α). The tied convs are run once (detached, post-critic-step weights) for
     both the actor's and the critic's heads: the same values as the reference's two calls, one pass less.
  d. every `target_update_freq` updates: Q̄ heads ← τ_Q (0.01); target encoder ← τ_enc (0.05).
  e. CURL (if on), every update: InfoNCE of two independent crops of the stored obs, queries from the
     critic's encoder, keys from the target critic's encoder under no-grad (`replab.rl.curl.CURL`).
The update counter (not the env step) drives the frequencies, so `updates_per_step > 1` keeps them.

Optimizers (which steps what) and stopped gradients:
  critic_opt (Adam lr, β (0.9, 0.999)): critic encoder (convs + head + LN) and Q1, Q2.
  actor_opt  (same): the actor's own encoder head + LN and its MLP, never the tied convs (detached).
  alpha_opt  (Adam alpha_lr, β (0.5, 0.999)): log α.
  encoder_opt (CURL only, lr): the critic encoder, with the CURL loss's gradient.
  curl_opt   (CURL only, lr): W (+ the critic encoder with `double_step_encoder`, the reference quirk).
  The target critic is never optimised (EMA only); targets and CURL keys are computed under no-grad;
  `detach_conv_from_critic` (Fig. 3.9 ablation) stops the critic's gradient before the convs.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replab.augment import Augment
from replab.rl.curl import CURL
from replab.rl.sac_nets import Actor, Critic, PixelEncoder, StateEncoder


class _Obs:
    def __init__(self, obs: Tensor):
        self.obs = obs


class SAC(nn.Module):
    """SAC agent: `act(obs, explore) -> action (A,)`, `update(batch, step) -> metrics`.

    obs_shape: (k·C, H, W) stored pixel stacks (uint8) or (D,) states. frames: k (augmentations share one
    draw per stack). augment: an augmentation spec (`"crop"`, `"translate"`, `"crop-flip"`, ...) with
    `augment_options` such as {"crop_size": 32}; evaluation uses its deterministic view (centre crop).
    curl: add the CURL loss (needs `curl_augment`, default "crop" with the same options).
    """

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        action_dim: int,
        *,
        frames: int = 3,
        augment: str | None = None,
        augment_options: dict | None = None,
        curl: bool = False,
        curl_augment: str = "crop",
        curl_similarity: str = "bilinear",
        curl_key: str = "ema",
        double_step_encoder: bool = False,
        detach_conv_from_critic: bool = False,
        hidden: int = 1024,
        feature_dim: int = 50,
        num_layers: int = 4,
        num_filters: int = 32,
        encoder_head: str = "linear",
        encoder_tanh: bool = False,
        lr: float = 1e-3,
        alpha_lr: float = 1e-4,
        alpha_beta1: float = 0.5,
        init_temperature: float = 0.1,
        critic_tau: float = 0.01,
        encoder_tau: float = 0.05,
        actor_update_freq: int = 2,
        target_update_freq: int = 2,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ):
        super().__init__()
        if action_dim < 1:
            raise ValueError(f"action_dim must be >= 1, got {action_dim}")
        for name, v in (("critic_tau", critic_tau), ("encoder_tau", encoder_tau)):
            if not 0.0 < v <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {v}")
        if actor_update_freq < 1 or target_update_freq < 1:
            raise ValueError(
                f"update frequencies must be >= 1, got {actor_update_freq}, {target_update_freq}"
            )
        if lr <= 0 or alpha_lr <= 0 or init_temperature <= 0:
            raise ValueError(
                f"lr, alpha_lr, init_temperature must be > 0, got {lr}, {alpha_lr}, {init_temperature}"
            )
        self.pixels = len(obs_shape) == 3
        if not self.pixels and (augment or curl):
            raise ValueError("augment and curl need pixel observations (C, H, W)")
        self.device, self.frames = torch.device(device), frames
        torch.manual_seed(seed)
        opts = dict(augment_options or {})
        self.aug = Augment(augment, frames=frames, seed=seed, **opts) if augment else None
        if self.pixels:
            probe = torch.zeros(1, *obs_shape, dtype=torch.uint8)
            net_shape = tuple(self._view(probe).shape[1:])
            encoder = PixelEncoder(
                net_shape,
                feature_dim=feature_dim,
                num_layers=num_layers,
                num_filters=num_filters,
                head=encoder_head,
                tanh=encoder_tanh,
            )
        else:
            encoder = StateEncoder(obs_shape[0])
        self.critic = Critic(encoder, action_dim, hidden)
        self.actor = Actor(encoder.tied(), action_dim, hidden)  # convs tied to the critic's (§2.2 c [R])
        self.critic_target = copy.deepcopy(self.critic)
        for p in self.critic_target.parameters():
            p.requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(float(np.log(init_temperature))))
        self.target_entropy = -float(action_dim)
        self.critic_tau, self.encoder_tau = critic_tau, encoder_tau
        self.actor_update_freq, self.target_update_freq = actor_update_freq, target_update_freq
        self.detach_conv_from_critic = detach_conv_from_critic
        self.curl = None
        if curl:
            curl_opts = {k: v for k, v in opts.items() if k.startswith(curl_augment.split("-")[0] + "_")}
            self.curl_aug = Augment(curl_augment, frames=frames, seed=seed + 1, **curl_opts)
            self.curl = CURL(
                self.critic.encoder,
                feature_dim,
                augment=self.curl_aug,
                key=curl_key,
                key_encoder=self.critic_target.encoder,
                momentum=None,  # keys = the target critic's encoder, EMA'd in step d (§2.2)
                similarity=curl_similarity,
                double_step_encoder=double_step_encoder,
            )
        self.to(self.device)
        conv_ids = {id(p) for p in self.critic.encoder.convs.parameters()}
        # fused Adam: the same update in one kernel per optimizer (CPU and CUDA), not a Python loop per tensor
        adam = dict(lr=lr, betas=(0.9, 0.999), fused=self.device.type in ("cpu", "cuda"))
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), **adam)
        actor_params = [p for p in self.actor.parameters() if id(p) not in conv_ids]
        self.actor_opt = torch.optim.Adam(actor_params, **adam)
        self.alpha_opt = torch.optim.Adam(
            [self.log_alpha], lr=alpha_lr, betas=(alpha_beta1, 0.999), fused=adam["fused"]
        )
        if self.curl is not None:
            self.encoder_opt = torch.optim.Adam(self.critic.encoder.parameters(), **adam)
            self.curl_opt = torch.optim.Adam(self.curl.parameters(), **adam)
        self.updates = 0

    @property
    def alpha(self) -> Tensor:
        return self.log_alpha.exp()

    def _view(self, obs: Tensor, train: bool = False) -> Tensor:
        """The network's input: a random augmentation in training, its deterministic view otherwise."""
        if self.aug is None:
            return obs
        if train:
            return self.aug.compose(obs, generator=self.aug.generator, frames=self.frames)
        return self.aug.compose.eval_view(obs, frames=self.frames)

    @torch.no_grad()
    def act(self, obs, *, explore: bool) -> np.ndarray:
        """One action (A,) float32: a sample of π when exploring, else the mean action tanh(μ) [R]."""
        x = torch.as_tensor(np.asarray(obs), device=self.device)[None]
        mu, a, _, _ = self.actor(self._view(x), sample=explore)
        return (a if explore else mu)[0].cpu().numpy().astype(np.float32)

    def update(self, batch, step: int) -> dict[str, float]:
        """One SAC (+ CURL) update on a replay `Batch`; returns scalar metrics."""
        self.updates += 1
        obs, next_obs = self._view(batch.obs, True), self._view(batch.next_obs, True)
        action = batch.action.float()
        with torch.no_grad():
            _, next_a, next_logp, _ = self.actor(next_obs)
            tq1, tq2 = self.critic_target(next_obs, next_a)
            v = torch.min(tq1, tq2) - self.alpha * next_logp
            target = batch.reward[:, None] + batch.discount[:, None] * v
        q1, q2 = self.critic(obs, action, detach_encoder=self.detach_conv_from_critic)
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        m = {"loss/critic": float(critic_loss.detach()), "train/q": float(q1.detach().mean())}

        if self.updates % self.actor_update_freq == 0:
            # the actor's and the critic's encoders share the convs and both are detached here: one conv
            # pass (after the critic step, as the reference's two calls) serves both heads
            with torch.no_grad():
                conv = self.critic.encoder.conv_features(obs)
            _, a, logp, _ = self.actor(obs, detach_encoder=True, conv=conv)
            aq1, aq2 = self.critic(obs, a, detach_encoder=True, conv=conv)
            actor_loss = (self.alpha.detach() * logp - torch.min(aq1, aq2)).mean()
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            self.actor_opt.step()
            alpha_loss = (self.alpha * (-logp - self.target_entropy).detach()).mean()
            self.alpha_opt.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_opt.step()
            m.update({"loss/actor": float(actor_loss.detach()), "train/alpha": float(self.alpha.detach())})

        if self.updates % self.target_update_freq == 0:
            self.soft_update()

        if self.curl is not None:
            curl_loss, cm = self.curl.loss(_Obs(batch.obs))
            self.encoder_opt.zero_grad(set_to_none=True)
            self.curl_opt.zero_grad(set_to_none=True)
            curl_loss.backward()
            self.encoder_opt.step()
            self.curl_opt.step()
            m.update(cm)
        return m

    @torch.no_grad()
    def soft_update(self) -> None:
        """θ̄ ← τ θ + (1 − τ) θ̄: Q heads with critic_tau, the encoder with encoder_tau (§2.2 d)."""
        pairs = [
            (self.critic_target.q1, self.critic.q1, self.critic_tau),
            (self.critic_target.q2, self.critic.q2, self.critic_tau),
            (self.critic_target.encoder, self.critic.encoder, self.encoder_tau),
        ]
        for target, source, tau in pairs:
            for pt, ps in zip(target.parameters(), source.parameters()):
                pt.lerp_(ps, tau)
