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
     both the actor's and the critic's heads: the same values as the reference's two calls, one pass less
     (with CURL that pass is the CURL query's, see e). The actor loss's backward computes only the
     actor's gradients (`inputs=`): the critic's weight gradients, never stepped, are not computed.
  d. every `target_update_freq` updates: Q̄ heads ← τ_Q (0.01); target encoder ← τ_enc (0.05).
  e. auxiliary objectives (`aux`, e.g. CURL), every update: L_aux = Σ coef · objective.loss(batch,
     features=z_a), one backward, then the encoder and the objectives' parameters step. CURL: InfoNCE
     with queries z_a = critic.encoder(obs_anchor), obs_anchor being the critic's own crop from a (§2.2
     2a/e [R]), keys from the target critic's encoder on an independent crop obs_pos under no-grad
     (`replab.rl.curl.CURL`). The convs don't change between the critic step and this loss, so the
     query's conv pass (with grad) is computed once, before the actor step, and serves c detached.
     `curl_anchor="own"`: no z_a is passed, so CURL's query gets its own crop (the thesis's pseudo-code
     x_q = aug(x); needed when the RL augmentation differs from CURL's, e.g. no_aug_for_rl).
Each obs tensor is converted to float x/255 once (`PixelEncoder.prepare`) for all the passes reading it.
The update counter (not the env step) drives the frequencies, so `updates_per_step > 1` keeps them.

Optimizers (which steps what) and stopped gradients:
  critic_opt (Adam lr, β (0.9, 0.999)): critic encoder (convs + head + LN) and Q1, Q2.
  actor_opt  (same): the actor's own encoder head + LN and its MLP, never the tied convs (detached).
  alpha_opt  (Adam alpha_lr, β (0.5, 0.999)): log α.
  encoder_opt (with aux, lr): the critic encoder, with the auxiliary losses' gradient.
  aux_opt    (with aux, lr): every objective's `parameters()` — CURL's W (+ the critic encoder with
             `double_step_encoder`, the reference quirk).
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
from replab.augment.compose import parse_spec
from replab.rl.agent import Shadow, aux_shadows, sync_optimizers, unique
from replab.rl.curl import CURL
from replab.rl.sac_nets import Actor, Critic, PixelEncoder, StateEncoder, weight_init

CURL_ANCHORS = ("critic", "own")


class SAC(nn.Module):
    """SAC agent: `act(obs, explore) -> action (A,)`, `update(batch, step) -> metrics`.

    obs_shape: (k·C, H, W) stored pixel stacks (uint8) or (D,) states. frames: k (augmentations share one
    draw per stack). augment: an augmentation spec (`"crop"`, `"translate"`, `"crop-flip"`, ...) with
    `augment_options` such as {"crop_size": 32}; evaluation uses its deterministic view (centre crop).
    aux: auxiliary objectives [(objective, coef)] (more with `add_aux`). curl: add the CURL loss with
    `curl_coef` (needs `curl_augment`, default "crop" with the same options). curl_anchor:
    "critic" (default, §2.2 2a/e [R]): the query encodes the critic's augmented obs, so `augment` must equal
    `curl_augment`; "own": the query's own draw of `curl_augment` (the previous behaviour of this code).
    """

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        action_dim: int,
        *,
        frames: int = 3,
        augment: str | None = None,
        augment_options: dict | None = None,
        aux: list | None = None,
        curl: bool = False,
        curl_coef: float = 1.0,
        curl_augment: str = "crop",
        curl_similarity: str = "bilinear",
        curl_key: str = "ema",
        curl_anchor: str = "critic",
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
        if curl_anchor not in CURL_ANCHORS:
            raise ValueError(f"curl_anchor must be one of {CURL_ANCHORS}, got {curl_anchor!r}")
        self.pixels = len(obs_shape) == 3
        if not self.pixels and (augment or curl):
            raise ValueError("augment and curl need pixel observations (C, H, W)")
        if curl and curl_anchor == "critic" and augment != curl_augment:
            raise ValueError(
                f"curl_anchor='critic' encodes the critic's own augmented obs as the CURL query, so augment "
                f"({augment!r}) must be curl_augment ({curl_augment!r}); pass curl_anchor='own' otherwise"
            )
        self.device, self.frames = torch.device(device), frames
        torch.manual_seed(seed)
        opts = dict(augment_options or {})
        self.aug = Augment(augment, frames=frames, seed=seed, **opts) if augment else None
        # random_conv works on normalised floats (seed001 §3.8): such a spec runs on x/255 and its output is
        # scaled back to [0, 255] for the encoder's x/255 (RAD's code convolves the [0, 255] floats; the same
        # numbers, since the convolution has no bias and no clamp)
        self._aug_in_unit_range = bool(augment) and "rand_conv" in parse_spec(augment)[0]
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
        self.curl_anchor, self.lr = curl_anchor, lr
        self.aux = []
        if curl:
            prefix = curl_augment.split("-")[0] + "_"
            curl_opts = (
                opts if curl_augment == augment else {k: v for k, v in opts.items() if k.startswith(prefix)}
            )
            self.curl_aug = Augment(curl_augment, frames=frames, seed=seed + 1, **curl_opts)
            objective = CURL(
                self.critic.encoder,
                feature_dim,
                augment=self.curl_aug,
                key=curl_key,
                key_encoder=self.critic_target.encoder,
                momentum=None,  # keys = the target critic's encoder, EMA'd in step d (§2.2)
                similarity=curl_similarity,
                double_step_encoder=double_step_encoder,
            )
            self.aux.append((objective, curl_coef))
        self.aux += list(aux or [])  # a plain list: the objectives are not submodules of the agent
        self.to(self.device)
        for objective, _ in self.aux:
            if isinstance(objective, nn.Module):
                objective.to(self.device)
        # fused Adam: the same update in one kernel per optimizer (CPU and CUDA), not a Python loop per tensor
        self._adam = dict(lr=lr, betas=(0.9, 0.999), fused=self.device.type in ("cpu", "cuda"))
        owned = self.owned_parameters()
        self.critic_opt = torch.optim.Adam(owned["critic_opt"], **self._adam)
        self.actor_opt = torch.optim.Adam(owned["actor_opt"], **self._adam)
        self.alpha_opt = torch.optim.Adam(
            [self.log_alpha], lr=alpha_lr, betas=(alpha_beta1, 0.999), fused=self._adam["fused"]
        )
        self.encoder_opt = self.aux_opt = None
        if self.aux:
            self.encoder_opt = torch.optim.Adam(owned["encoder_opt"], **self._adam)
            self.aux_opt = torch.optim.Adam(owned["aux_opt"], **self._adam)
        self.on_change()
        self.updates = 0

    @property
    def alpha(self) -> Tensor:
        return self.log_alpha.exp()

    @property
    def curl(self) -> CURL | None:
        """The CURL objective among `aux` (None without one)."""
        return next((o for o, _ in self.aux if isinstance(o, CURL)), None)

    # -- the agent protocol (replab.rl.agent) -----------------------------------------------------------
    initializer = staticmethod(weight_init)
    """Re-drawn weights use SAC's own init [R]: orthogonal Linear, delta-orthogonal Conv2d."""

    def networks(self) -> dict[str, nn.Module]:
        return {"critic": self.critic, "actor": self.actor}

    def parts(self) -> dict[str, list[str]]:
        """encoder: the critic's (the actor ties its convs); head: both Q heads and the actor's MLP."""
        return {"encoder": ["critic.encoder"], "head": ["critic.q1", "critic.q2", "actor.trunk"]}

    def shadows(self) -> list[Shadow]:
        """The target critic: Q heads EMA'd with critic_tau, the encoder with encoder_tau (§2.2 d), every
        `target_update_freq` updates; plus the auxiliary objectives' own key networks."""
        pairs = [("q1", self.critic_tau), ("q2", self.critic_tau), ("encoder", self.encoder_tau)]
        own = [
            Shadow(getattr(self.critic, name), owner, name, "ema", tau, self.target_update_freq)
            for (name, tau), owner in zip(pairs, [self.critic_target] * 3)
        ]
        return own + aux_shadows(self.aux)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        opts = {"critic_opt": self.critic_opt, "actor_opt": self.actor_opt, "alpha_opt": self.alpha_opt}
        if self.encoder_opt is not None:
            opts |= {"encoder_opt": self.encoder_opt, "aux_opt": self.aux_opt}
        return opts

    def owned_parameters(self) -> dict[str, list[nn.Parameter]]:
        """critic_opt: the critic; actor_opt: the actor but the tied convs; alpha_opt: log α; with aux,
        encoder_opt: the critic's encoder and aux_opt: the objectives' parameters."""
        conv_ids = {id(p) for p in self.critic.encoder.convs.parameters()}
        owned = {
            "critic_opt": unique(self.critic.parameters()),
            "actor_opt": [p for p in unique(self.actor.parameters()) if id(p) not in conv_ids],
            "alpha_opt": [self.log_alpha],
        }
        if self.aux:
            owned["encoder_opt"] = unique(self.critic.encoder.parameters())
            owned["aux_opt"] = unique(p for o, _ in self.aux for p in o.parameters())
        return owned

    def add_aux(self, objective, coef: float = 1.0) -> None:
        """Attach an auxiliary objective: its loss joins e. of every update, its parameters aux_opt."""
        if isinstance(objective, nn.Module):
            objective.to(self.device)
        self.aux.append((objective, coef))
        if self.encoder_opt is None:
            owned = self.owned_parameters()
            self.encoder_opt = torch.optim.Adam(owned["encoder_opt"], **self._adam)
            self.aux_opt = torch.optim.Adam(owned["aux_opt"], **self._adam)
        sync_optimizers(self)
        self.on_change()

    def view(self, obs: Tensor) -> Tensor:
        """The networks' input for raw observations: the deterministic view (centre crop)."""
        return self._view(obs)

    @torch.no_grad()
    def trace(self, batch) -> None:
        """The critic on (obs, action) and the actor on obs, in their deterministic view."""
        obs = self._view(batch.obs)
        self.critic(obs, batch.action.float())
        self.actor(obs, sample=False)

    def on_change(self) -> None:
        """Rebuild the cached parameter lists after network surgery: the actor's own parameters, the soft
        update's (τ, targets, sources) groups, and CURL's keys (the target critic's encoder)."""
        conv_ids = {id(p) for p in self.critic.encoder.convs.parameters()}
        self._actor_params = [p for p in self.actor.parameters() if p.requires_grad and id(p) not in conv_ids]
        groups: dict[float, tuple[list, list]] = {}
        for shadow in self.shadows()[:3]:
            targets, sources = groups.setdefault(shadow.tau, ([], []))
            targets += list(shadow.target.parameters())
            sources += list(shadow.online.parameters())
        self._ema_groups = [(tau, t, s) for tau, (t, s) in groups.items()]
        self._ema_modules = self._ema_state()
        if self.curl is not None and self.curl.external_key:
            self.curl.key_encoder = self.critic_target.encoder

    def _ema_state(self) -> tuple:
        """What the soft-update groups were built from: the modules and their parameter counts."""
        mods = (self.critic.q1, self.critic.q2, self.critic.encoder, *self.critic_target.children())
        return tuple((id(m), sum(1 for _ in m.parameters())) for m in mods)

    def _view(self, obs: Tensor, train: bool = False) -> Tensor:
        """The network's input: a random augmentation in training, its deterministic view otherwise."""
        if self.aug is None:
            return obs
        unit = self._aug_in_unit_range
        x = obs.to(torch.float32) / 255.0 if unit else obs  # a new tensor: obs itself is never modified
        if train:
            x = self.aug.compose(x, generator=self.aug.generator, frames=self.frames)
        else:
            x = self.aug.compose.eval_view(x, frames=self.frames)
        return x * 255.0 if unit else x

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
        enc = self.critic.encoder
        with torch.no_grad():
            xn = enc.prepare(next_obs)  # one input conversion for the actor's and the target's pass
            _, next_a, next_logp, _ = self.actor(None, conv=enc.conv_features(xn, prepared=True))
            tconv = self.critic_target.encoder.conv_features(xn, prepared=True)
            tq1, tq2 = self.critic_target(None, next_a, conv=tconv)
            v = torch.min(tq1, tq2) - self.alpha * next_logp
            target = batch.reward[:, None] + batch.discount[:, None] * v
        x = enc.prepare(obs)  # obs_anchor's input, read by the critic, the actor step and the CURL query
        with torch.set_grad_enabled(not self.detach_conv_from_critic):
            conv = enc.conv_features(x, prepared=True)
        q1, q2 = self.critic(None, action, conv=conv)
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        m = {"loss/critic": float(critic_loss.detach()), "train/q": float(q1.detach().mean())}

        # after the critic step the convs stay fixed until the CURL step: one pass (post-critic-step weights)
        # serves the CURL query on obs_anchor (with grad, §2.2 e) and, detached, the actor step's actor and
        # critic heads (§2.2 c, both detached before the convs): the reference's three passes, same values
        query_conv = None
        if self.aux and self.curl_anchor == "critic":
            query_conv = enc.conv_features(x, prepared=True)
        if self.updates % self.actor_update_freq == 0:
            if query_conv is not None:
                conv = query_conv.detach()
            else:
                with torch.no_grad():
                    conv = enc.conv_features(x, prepared=True)
            _, a, logp, _ = self.actor(None, detach_encoder=True, conv=conv)
            aq1, aq2 = self.critic(None, a, detach_encoder=True, conv=conv)
            actor_loss = (self.alpha.detach() * logp - torch.min(aq1, aq2)).mean()
            self.actor_opt.zero_grad(set_to_none=True)
            # only the actor's parameters: the critic's weight gradients (discarded, never stepped) are
            # not computed; the gradient still flows through the critic to the action
            actor_loss.backward(inputs=self._actor_params)
            self.actor_opt.step()
            alpha_loss = (self.alpha * (-logp - self.target_entropy).detach()).mean()
            self.alpha_opt.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_opt.step()
            m.update({"loss/actor": float(actor_loss.detach()), "train/alpha": float(self.alpha.detach())})

        if self.updates % self.target_update_freq == 0:
            self.soft_update()

        if self.aux:
            features = enc(None, conv=query_conv) if query_conv is not None else None
            aux_loss = None
            for objective, coef in self.aux:
                loss, am = objective.loss(batch, features=features)
                aux_loss = coef * loss if aux_loss is None else aux_loss + coef * loss
                m.update(am)
            self.encoder_opt.zero_grad(set_to_none=True)
            self.aux_opt.zero_grad(set_to_none=True)
            aux_loss.backward()
            self.encoder_opt.step()
            self.aux_opt.step()
            for objective, _ in self.aux:
                if hasattr(objective, "update_key_encoder"):
                    objective.update_key_encoder()
        return m

    @torch.no_grad()
    def soft_update(self) -> None:
        """θ̄ ← τ θ + (1 − τ) θ̄: Q heads with critic_tau, the encoder with encoder_tau (§2.2 d)."""
        if self._ema_state() != self._ema_modules:  # surgery outside the protocol: the EMA would miss it
            raise RuntimeError(
                "the critic or its target changed outside replab.rl.agent.intervene (a replaced head, new "
                "layers): the soft update would not track the new parameters; run the intervention with "
                "intervene(agent, action), or re-sync agent.shadows() and call agent.on_change()"
            )
        for tau, targets, sources in self._ema_groups:
            if targets:  # (State SAC's encoder has no parameters)
                torch._foreach_lerp_(targets, sources, tau)  # one fused call per τ
