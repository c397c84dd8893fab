"""ClonEx-SAC (Wołczyk, Zając, Pascanu, Kuciński, Miłoś, NeurIPS 2022; seed002 §9.2): a multi-head SAC for
continual control with behavioural cloning of the actor on stored states and best-return exploration.

**Multi-head SAC** (Continual World `sac.py` defaults, `multihead_archs=True`): the observation ends with the
one-hot task id (the CW wrapper appends it; `replab.envs.physics_variants.TaskIdObservation`); actor and
critics are MLPs on the whole observation (shared trunk: Linear → LayerNorm → tanh, then Linear → LeakyReLU,
CW's `use_layer_norm`), with one output head per task, the head picked by the observation's task id.
Per-task entropy temperatures α_k with target entropy H̄ = |A| · log(σ̄ √(2πe)), σ̄ = `target_output_std`
(0.089). One `update(batch, step)` on the current task's batch:
  critic: MSE(Q_i(s, a), r + γ^m (1 − d) (min Q̄(s', a') − α_k log π(a'|s'))), a' ~ π(s'), i = 1, 2;
  actor:  E[α_k log π(a|s) − min Q(s, a)] + λ_BC · E_{s ~ expert} KL(π_θ(·|s) ‖ N(μ_old(s), σ_old(s)))
          (ClonEx step 2; `kl_direction` "current_stored" as the `myrecall` fork, "stored_current" as COOM);
  α_k:    E[−α_k (log π + H̄)];  targets: Polyak θ̄ ← (1 − τ) θ̄ + τ θ, τ = 1 − 0.995.
The KL is between the pre-tanh Gaussians: tanh is a bijection, so it equals the KL of the squashed policies.
**Critic regularisation** (`critic_reg_coef` > 0, off in ClonEx, §9.2 step 4): λ_c · E[(Q_i(s, a) − Q_i^old(s, a))²]
on stored (state, action, Q) triples of past tasks.

**Task boundaries** (`end_task`, `start_task`): at the end of task k, `expert_samples` (10,000) replay states
are stored with the policy's (μ, log σ) on them (and actions + Q-values when the critic is regularised); at
the start of a task the replay and the optimisers are reset (CW `reset_buffer_on_task_change`,
`reset_optimizer_on_task_change`; the critic is not). **Best-return exploration** (ClonEx step 3):
`best_return_head` runs each earlier head on the new task and `copy_head` copies the best one's weights into
the new head, which then acts from the first step instead of uniform random actions.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replab.rl.agent import Shadow, aux_shadows, sync_optimizers, unique
from replab.rl.sac_nets import weight_init

KL_DIRECTIONS = ("current_stored", "stored_current")


def trunk(inp: int, hidden: int, layers: int, layer_norm: bool) -> nn.Sequential:
    """CW's `mlp`: Linear → LayerNorm → tanh (with layer norm) or LeakyReLU, then (layers − 1) × Linear →
    LeakyReLU [S: CW `models.py` via seed002 §9.2]."""
    mods: list[nn.Module] = [nn.Linear(inp, hidden)]
    mods += [nn.LayerNorm(hidden), nn.Tanh()] if layer_norm else [nn.LeakyReLU()]
    for _ in range(layers - 1):
        mods += [nn.Linear(hidden, hidden), nn.LeakyReLU()]
    return nn.Sequential(*mods)


class MultiHead(nn.Module):
    """One Linear output head per task on shared features: (B, H), one-hot task ids (B, T) → (B, out).
    Every head is computed in one matmul and the task's is kept by the one-hot mask (T is small: cheaper
    than gathering a weight matrix per example, forward and backward)."""

    def __init__(self, hidden: int, out: int, num_tasks: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_tasks, out, hidden))
        self.bias = nn.Parameter(torch.zeros(num_tasks, out))
        self.num_tasks, self.out = num_tasks, out
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Orthogonal weights per head, zero biases (SAC's `weight_init` for each head's Linear)."""
        with torch.no_grad():
            for k in range(self.num_tasks):
                nn.init.orthogonal_(self.weight[k])
            self.bias.zero_()

    def forward(self, h: Tensor, onehot: Tensor) -> Tensor:
        return (self.all_heads(h) * onehot[:, :, None]).sum(1)

    def all_heads(self, h: Tensor) -> Tensor:
        """(B, T, out): every head's output."""
        t, o = self.num_tasks, self.out
        return F.linear(h, self.weight.reshape(t * o, -1), self.bias.reshape(-1)).view(-1, t, o)


class MultiHeadActor(nn.Module):
    """tanh-Gaussian policy; `forward(obs)` → (mean action, action, log π, μ, log σ) of the obs's task head."""

    def __init__(self, obs_dim, action_dim, num_tasks, hidden, layers, layer_norm, log_std=(-20.0, 2.0)):
        super().__init__()
        self.trunk = trunk(obs_dim, hidden, layers, layer_norm)
        self.head = MultiHead(hidden, 2 * action_dim, num_tasks)
        self.num_tasks, self.log_std_min, self.log_std_max = num_tasks, *log_std
        self.trunk.apply(weight_init)

    def task(self, obs: Tensor) -> Tensor:
        return obs[:, -self.num_tasks :].argmax(1)

    def dist(self, obs: Tensor, task: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(μ, log σ) of the pre-tanh Gaussian, (B, A) each; `task` (B,) overrides the obs's one-hot id."""
        onehot = obs[:, -self.num_tasks :] if task is None else F.one_hot(task, self.num_tasks).to(obs.dtype)
        out = self.head(self.trunk(obs), onehot)
        mu, log_std = out.chunk(2, -1)
        return mu, log_std.clamp(self.log_std_min, self.log_std_max)  # CW's clip to [−20, 2]

    def forward(self, obs: Tensor, *, sample: bool = True, task: Tensor | None = None):
        mu, log_std = self.dist(obs, task)
        if not sample:
            return torch.tanh(mu), None, None, mu, log_std
        noise = torch.randn_like(mu)
        u = mu + noise * log_std.exp()
        logp = (-0.5 * noise.pow(2) - log_std).sum(-1, keepdim=True) - 0.5 * math.log(2 * math.pi) * mu.shape[
            -1
        ]
        # squash correction log(1 − tanh(u)²) = 2 (log 2 − u − softplus(−2u)) (SpinningUp / CW, stable)
        logp = logp - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1, keepdim=True)
        return torch.tanh(mu), torch.tanh(u), logp, mu, log_std


class MultiHeadCritic(nn.Module):
    """Q1, Q2: shared-trunk MLPs on (obs, action) with one scalar head per task, (B, 1) each."""

    def __init__(self, obs_dim, action_dim, num_tasks, hidden, layers, layer_norm):
        super().__init__()
        self.num_tasks = num_tasks
        self.q1 = trunk(obs_dim + action_dim, hidden, layers, layer_norm)
        self.q2 = trunk(obs_dim + action_dim, hidden, layers, layer_norm)
        self.q1.apply(weight_init)
        self.q2.apply(weight_init)
        self.h1, self.h2 = MultiHead(hidden, 1, num_tasks), MultiHead(hidden, 1, num_tasks)

    def forward(self, obs: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        x, onehot = torch.cat([obs, action], -1), obs[:, -self.num_tasks :]
        return self.h1(self.q1(x), onehot), self.h2(self.q2(x), onehot)


def gaussian_kl(mu_p: Tensor, log_std_p: Tensor, mu_q: Tensor, log_std_q: Tensor) -> Tensor:
    """KL(N(μ_p, σ_p) ‖ N(μ_q, σ_q)) of diagonal Gaussians, summed over action dims: (B,)."""
    var_p, var_q = (2 * log_std_p).exp(), (2 * log_std_q).exp()
    return (log_std_q - log_std_p + (var_p + (mu_p - mu_q).pow(2)) / (2 * var_q) - 0.5).sum(-1)


class ClonExSAC(nn.Module):
    """Multi-head SAC with ClonEx's actor cloning (see the module docstring); the agent protocol of
    `replab.rl.agent`. obs_dim includes the one-hot task id (its last `num_tasks` entries)."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        num_tasks: int,
        *,
        hidden: int = 256,
        layers: int = 4,
        layer_norm: bool = True,
        lr: float = 1e-3,
        gamma: float = 0.99,
        polyak: float = 0.995,
        target_output_std: float = 0.089,
        init_alpha: float = 1.0,
        bc_coef: float = 1.0,
        kl_direction: str = "current_stored",
        critic_reg_coef: float = 0.0,
        expert_samples: int = 10_000,
        bc_batch: int | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ):
        super().__init__()
        if obs_dim <= num_tasks or action_dim < 1 or num_tasks < 1:
            raise ValueError(
                f"need obs_dim > num_tasks >= 1 (obs ends with the one-hot task id) and action_dim >= 1, got "
                f"obs_dim={obs_dim}, num_tasks={num_tasks}, action_dim={action_dim}"
            )
        if kl_direction not in KL_DIRECTIONS:
            raise ValueError(f"kl_direction must be one of {KL_DIRECTIONS}, got {kl_direction!r}")
        if not 0 < polyak < 1 or lr <= 0 or target_output_std <= 0 or bc_coef < 0 or critic_reg_coef < 0:
            raise ValueError(
                f"need 0 < polyak < 1, lr > 0, target_output_std > 0, bc_coef >= 0, critic_reg_coef >= 0; got "
                f"{polyak}, {lr}, {target_output_std}, {bc_coef}, {critic_reg_coef}"
            )
        if hidden < 1 or layers < 1 or expert_samples < 1:
            raise ValueError(
                f"hidden, layers, expert_samples must be >= 1, got {hidden}, {layers}, {expert_samples}"
            )
        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.num_tasks, self.action_dim, self.obs_dim = num_tasks, action_dim, obs_dim
        self.actor = MultiHeadActor(obs_dim, action_dim, num_tasks, hidden, layers, layer_norm)
        self.critic = MultiHeadCritic(obs_dim, action_dim, num_tasks, hidden, layers, layer_norm)
        self.critic_target = copy.deepcopy(self.critic)
        for p in self.critic_target.parameters():
            p.requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.full((num_tasks,), math.log(init_alpha)))
        # H̄ = Σ_a ½ log(2πe σ̄²): the entropy of a Gaussian whose std is σ̄ in every dim (CW target_output_std)
        self.target_entropy = action_dim * (
            0.5 * math.log(2 * math.pi * math.e) + math.log(target_output_std)
        )
        self.gamma, self.tau, self.lr = gamma, 1.0 - polyak, lr
        self.bc_coef, self.kl_direction, self.critic_reg_coef = bc_coef, kl_direction, critic_reg_coef
        self.expert_samples, self.bc_batch = expert_samples, bc_batch
        self.expert: dict[str, Tensor] = {}
        self.task = 0
        self.aux = []
        self.rng = torch.Generator().manual_seed(seed + 1)
        self.to(self.device)
        self._make_optimizers()
        self.updates = 0

    # -- the agent protocol (replab.rl.agent) -----------------------------------------------------------
    initializer = staticmethod(weight_init)

    def _make_optimizers(self) -> None:
        owned = self.owned_parameters()
        kw = dict(lr=self.lr, fused=self.device.type in ("cpu", "cuda"))  # one kernel per optimiser, as SAC's
        self.critic_opt = torch.optim.Adam(owned["critic_opt"], **kw)
        self.actor_opt = torch.optim.Adam(owned["actor_opt"], **kw)
        self.alpha_opt = torch.optim.Adam(owned["alpha_opt"], **kw)
        self.aux_opt = torch.optim.Adam(owned["aux_opt"], **kw) if self.aux else None
        self.on_change()

    def networks(self) -> dict[str, nn.Module]:
        return {"critic": self.critic, "actor": self.actor}

    def parts(self) -> dict[str, list[str]]:
        """encoder: the actor's shared trunk (what transfers between tasks); head: the per-task heads."""
        return {"encoder": ["actor.trunk"], "head": ["actor.head", "critic.h1", "critic.h2"]}

    def shadows(self) -> list[Shadow]:
        own = [
            Shadow(getattr(self.critic, n), self.critic_target, n, "ema", self.tau)
            for n in ("q1", "q2", "h1", "h2")
        ]
        return own + aux_shadows(self.aux)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        opts = {"critic_opt": self.critic_opt, "actor_opt": self.actor_opt, "alpha_opt": self.alpha_opt}
        return opts | ({"aux_opt": self.aux_opt} if self.aux_opt is not None else {})

    def owned_parameters(self) -> dict[str, list[nn.Parameter]]:
        owned = {
            "critic_opt": unique(self.critic.parameters()),
            "actor_opt": unique(self.actor.parameters()),
            "alpha_opt": [self.log_alpha],
        }
        if self.aux:
            owned["aux_opt"] = unique(p for o, _ in self.aux for p in o.parameters())
        return owned

    def add_aux(self, objective, coef: float = 1.0) -> None:
        """An auxiliary objective: its loss (on the current batch) joins the critic's, its parameters aux_opt."""
        if isinstance(objective, nn.Module):
            objective.to(self.device)
        self.aux.append((objective, coef))
        if self.aux_opt is None:
            self.aux_opt = torch.optim.Adam(self.owned_parameters()["aux_opt"], lr=self.lr)
        sync_optimizers(self)

    def view(self, obs: Tensor) -> Tensor:
        return obs.float()

    @torch.no_grad()
    def trace(self, batch) -> None:
        self.critic(batch.obs.float(), batch.action.float())
        self.actor(batch.obs.float(), sample=False)

    def on_change(self) -> None:
        """Rebuild the cached parameter lists (the actor's, the soft update's) after network surgery."""
        self._actor_params = unique(self.actor.parameters())
        own = self.shadows()[:4]  # one τ for all four: one fused lerp over every target tensor
        self._ema = [
            ([p for s in own for p in s.target.parameters()], [p for s in own for p in s.online.parameters()])
        ]

    # -- acting ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs, *, explore: bool, head: int | None = None) -> np.ndarray:
        """One action (A,): a sample of π when exploring, else tanh(μ); `head` acts with another task's head."""
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)[None]
        task = None if head is None else torch.tensor([head], device=self.device)
        mean, a, *_ = self.actor(x, sample=explore, task=task)
        return (a if explore else mean)[0].cpu().numpy().astype(np.float32)

    # -- learning -------------------------------------------------------------------------------------------
    def bc_loss(self, obs: Tensor, mu_old: Tensor, log_std_old: Tensor) -> Tensor:
        """E_s KL between the current policy and the stored one on stored states (ClonEx step 2): (,)."""
        mu, log_std = self.actor.dist(obs)
        if self.kl_direction == "current_stored":
            return gaussian_kl(mu, log_std, mu_old, log_std_old).mean()
        return gaussian_kl(mu_old, log_std_old, mu, log_std).mean()

    def _expert_batch(self, n: int) -> dict[str, Tensor] | None:
        if not self.expert:
            return None
        idx = torch.randint(0, self.expert["obs"].shape[0], (n,), generator=self.rng).to(self.device)
        return {k: v[idx] for k, v in self.expert.items()}

    def update(self, batch, step: int) -> dict[str, float]:
        """One SAC update on the current task's `batch` with the BC (and critic) regularisers."""
        self.updates += 1
        obs, next_obs, action = batch.obs.float(), batch.next_obs.float(), batch.action.float()
        onehot = obs[:, -self.num_tasks :]  # each example's α_k and log α_k through its one-hot task id
        log_alpha_b = onehot @ self.log_alpha
        alpha_b = log_alpha_b.detach().exp()[:, None]
        with torch.no_grad():
            _, next_a, next_logp, _, _ = self.actor(next_obs)
            tq1, tq2 = self.critic_target(next_obs, next_a)
            v = torch.min(tq1, tq2) - alpha_b * next_logp
            target = batch.reward[:, None] + batch.discount[:, None] * v
        q1, q2 = self.critic(obs, action)
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        regularised = (
            self.bc_coef > 0 or self.critic_reg_coef > 0
        )  # fine-tuning stores states but never reads them
        expert = self._expert_batch(self.bc_batch or obs.shape[0]) if regularised else None
        m = {}
        if expert is not None and self.critic_reg_coef > 0:
            eq1, eq2 = self.critic(expert["obs"], expert["action"])
            reg = F.mse_loss(eq1, expert["q1"]) + F.mse_loss(eq2, expert["q2"])
            critic_loss = critic_loss + self.critic_reg_coef * reg
            m["loss/critic_reg"] = float(reg.detach())
        aux_loss = None
        for objective, coef in self.aux:
            loss, am = objective.loss(batch)
            aux_loss = coef * loss if aux_loss is None else aux_loss + coef * loss
            m.update(am)
        self.critic_opt.zero_grad(set_to_none=True)
        if self.aux_opt is not None:
            self.aux_opt.zero_grad(set_to_none=True)
        (critic_loss if aux_loss is None else critic_loss + aux_loss).backward()
        self.critic_opt.step()
        if self.aux_opt is not None:
            self.aux_opt.step()

        _, a, logp, _, _ = self.actor(obs)
        aq1, aq2 = self.critic(obs, a)
        actor_loss = (alpha_b * logp - torch.min(aq1, aq2)).mean()
        if expert is not None and self.bc_coef > 0:
            bc = self.bc_loss(expert["obs"], expert["mu"], expert["log_std"])
            actor_loss = actor_loss + self.bc_coef * bc
            m["loss/bc_kl"] = float(bc.detach())
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward(inputs=self._actor_params)
        self.actor_opt.step()
        alpha_loss = -(log_alpha_b * (logp.detach()[:, 0] + self.target_entropy)).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_opt.step()
        with torch.no_grad():
            for targets, sources in self._ema:
                torch._foreach_lerp_(targets, sources, self.tau)
        m |= {"loss/critic": float(critic_loss.detach()), "loss/actor": float(actor_loss.detach()),
              "train/alpha": float(self.log_alpha[self.task].detach().exp()), "train/q": float(q1.detach().mean())}  # fmt: skip
        return m

    # -- task boundaries (ClonEx steps 1 and 3; CW resets) ------------------------------------------------
    @torch.no_grad()
    def end_task(self, replay) -> int:
        """Store `expert_samples` states of the finished task from `replay` (a `FrameReplay`) with the
        policy's (μ, log σ) on them, and actions + Q-values when the critic is regularised. Returns the count."""
        n = min(self.expert_samples, len(replay))
        if n < 1:
            raise ValueError("the replay is empty: train on the task before end_task")
        parts: dict[str, list[Tensor]] = {}
        got = 0
        while got < n:
            b = replay.sample()
            obs, act = b.obs.float().clone(), b.action.float().clone()
            take = min(n - got, obs.shape[0])
            obs, act = obs[:take], act[:take]
            mu, log_std = self.actor.dist(obs)
            new = {"obs": obs, "mu": mu, "log_std": log_std}
            if self.critic_reg_coef > 0:
                q1, q2 = self.critic(obs, act)
                new |= {"action": act, "q1": q1, "q2": q2}
            for k, v in new.items():
                parts.setdefault(k, []).append(v)
            got += take
        for k, v in parts.items():
            cat = torch.cat(v)
            self.expert[k] = cat if k not in self.expert else torch.cat([self.expert[k], cat])
        return n

    def start_task(self, task: int) -> None:
        """Begin task `task`: fresh optimiser states (CW `reset_optimizer_on_task_change`); the caller
        resets the replay. The critic and the trunk are kept."""
        if not 0 <= task < self.num_tasks:
            raise ValueError(f"task must be in [0, {self.num_tasks}), got {task}")
        self.task = task
        self._make_optimizers()

    @torch.no_grad()
    def copy_head(self, src: int, dst: int, *, critic: bool = False) -> None:
        """Copy head `src`'s weights into head `dst` (the actor's; the critic's too with `critic`), as the
        `myrecall` fork does after best-return selection (§9.2 step 3)."""
        heads = [self.actor.head] + (
            [self.critic.h1, self.critic.h2, self.critic_target.h1, self.critic_target.h2] if critic else []
        )
        for h in heads:
            h.weight[dst] = h.weight[src]
            h.bias[dst] = h.bias[src]
