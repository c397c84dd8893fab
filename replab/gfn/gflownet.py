"""A GFlowNet trainer on a DAG environment: sample trajectories, compute an objective, take a step.

`objective="fm"` is the thesis's flow matching (seed004 §S4.2): the network predicts log edge flows
F^log(s, ·) and the sampling policy is softmax(κ F^log(s, ·)). `"db"` (detailed balance) adds a state
log-flow head; `"tb"` (trajectory balance) learns a scalar log Z; both use the uniform backward policy
over a state's parent edges (a choice: the thesis has neither objective). Replay and an EMA target are
the thesis §5.3.4 options for flow matching.
"""

from __future__ import annotations

import copy

import torch

from replab.gfn.env import DAGEnv, unique_rows
from replab.gfn.losses import (
    detailed_balance_loss,
    flow_matching_loss,
    flow_matching_residual,
    trajectory_balance_loss,
)
from replab.gfn.model import ema_update, mlp
from replab.gfn.replay import REPLAY_KINDS, StateReplay
from replab.gfn.sampler import Trajectories, masked_log_softmax, sample_trajectories

OBJECTIVES = ("fm", "db", "tb")
OPTIMIZERS = ("adam", "rmsprop", "sgd")


class GFlowNet:
    """Trainer state (network, optimizer, replay, target) and one `train_step` per minibatch.

    Args:
        env: the DAG environment.
        objective: "fm" (default, thesis eq. 5.16), "db" or "tb".
        hidden, n_layers: the MLP (256, 2 — seed004 §S4.4 [REF-CODE]).
        lr: learning rate (seed004 §S4.7: Adam 1e-3). optimizer: "adam" (β = 0.9, 0.999), "rmsprop" or
            "sgd" (momentum 0.9), compared in thesis §5.3.4. lr_log_Z: learning rate of log Z ("tb").
        eps: ε of eq. 5.16 (0: the [REF-CODE] grid loss). leaf_coef: λ_T.
        temperature, epsilon: κ and ε-uniform exploration of the sampler (thesis §5.3.4; 1 and 0 = on-policy).
        replay: None, "uniform" or "prioritized" (fm only): each step adds the fresh visited states and
            trains on them plus as many replayed states.
        replay_capacity: states kept. ema_tau: None (no target, the thesis's best) or τ of an EMA target
            network used for the out-flows (fm only).
        generator: the sampler's random stream; init_generator: the stream for weight initialisation.
    """

    def __init__(
        self,
        env: DAGEnv,
        objective: str = "fm",
        hidden: int = 256,
        n_layers: int = 2,
        lr: float = 1e-3,
        optimizer: str = "adam",
        lr_log_Z: float = 0.1,
        eps: float = 0.0,
        leaf_coef: float = 1.0,
        temperature: float = 1.0,
        epsilon: float = 0.0,
        replay: str | None = None,
        replay_capacity: int = 100_000,
        ema_tau: float | None = None,
        generator: torch.Generator | None = None,
        init_generator: torch.Generator | None = None,
    ):
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if eps < 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        if replay is not None and (replay not in REPLAY_KINDS or objective != "fm"):
            raise ValueError(f"replay must be None or one of {REPLAY_KINDS} (objective 'fm'), got {replay!r}")
        if ema_tau is not None and (not 0 <= ema_tau < 1 or objective != "fm"):
            raise ValueError(f"ema_tau must be None or in [0, 1) (objective 'fm'), got {ema_tau!r}")
        self.env, self.objective = env, objective
        self.eps, self.leaf_coef, self.temperature, self.epsilon = eps, leaf_coef, temperature, epsilon
        self.generator = generator
        in_dim = env.features(env.initial(1)).shape[1]
        out_dim = env.n_actions + (1 if objective == "db" else 0)
        if init_generator is not None:  # draw the initial weights from the run's "init" stream
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(2**62, (1,), generator=init_generator)))
                self.net = mlp(in_dim, out_dim, hidden, n_layers)
        else:
            self.net = mlp(in_dim, out_dim, hidden, n_layers)
        self.log_Z = torch.nn.Parameter(torch.zeros(()))
        groups = [{"params": self.net.parameters(), "lr": lr}]
        if objective == "tb":
            groups.append({"params": [self.log_Z], "lr": lr_log_Z})
        self.optimizer = {
            "adam": lambda: torch.optim.Adam(groups, betas=(0.9, 0.999)),
            "rmsprop": lambda: torch.optim.RMSprop(groups),
            "sgd": lambda: torch.optim.SGD(groups, momentum=0.9),
        }[optimizer]()
        self.target = copy.deepcopy(self.net).requires_grad_(False) if ema_tau is not None else None
        self.ema_tau = ema_tau
        self.replay = (
            StateReplay(replay_capacity, env.state_dim, replay, generator=generator)
            if replay is not None
            else None
        )

    # -- policy -----------------------------------------------------------------------------------------
    def logits(self, states: torch.Tensor) -> torch.Tensor:
        """Forward logits `(B, n_actions)`: log edge flows for "fm", policy logits otherwise."""
        return self.net(self.env.features(states))[:, : self.env.n_actions]

    def sample(self, batch: int, explore: bool = True) -> Trajectories:
        """Trajectories from the exploratory (κ, ε) policy, or from the learned policy (explore=False)."""
        kappa, eps = (self.temperature, self.epsilon) if explore else (1.0, 0.0)
        return sample_trajectories(self.env, self.logits, batch, self.generator, kappa, eps)

    # -- training ---------------------------------------------------------------------------------------
    def train_step(self, batch: int = 16) -> tuple[dict[str, float], Trajectories]:
        """Sample `batch` trajectories, take one optimizer step; return (metrics, the trajectories)."""
        trajs = self.sample(batch)
        if self.objective == "fm":
            loss, metrics = self._fm_step(trajs)
        elif self.objective == "db":
            loss, metrics = self._db_loss(trajs)
        else:
            loss, metrics = self._tb_loss(trajs)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.target is not None:
            ema_update(self.target, self.net, self.ema_tau)
        metrics["loss"] = float(loss.detach())
        return metrics, trajs

    def _fm_step(self, trajs: Trajectories):
        states = trajs.transitions()[2]  # every visited s' ≠ s0
        slots = None
        if self.replay is not None:
            self.replay.add(states)
            replayed, slots = self.replay.sample(len(states))
            states = torch.cat([states, replayed])
        inputs = self.fm_inputs(states)
        loss, leaf, inner = flow_matching_loss(*inputs, eps=self.eps, leaf_coef=self.leaf_coef)
        if slots is not None and self.replay.kind == "prioritized":
            with torch.no_grad():
                residual = flow_matching_residual(*(x[-len(slots) :] for x in inputs), eps=self.eps)
            self.replay.update_priorities(slots, residual)
        return loss, {"leaf_loss": float(leaf), "inner_loss": float(inner)}

    def fm_inputs(self, states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The arguments of `flow_matching_loss` (all but ε, λ_T) for visited states `(K, D)`.

        (log_in_edges `(K, P)`, in_mask, log_out_edges `(K, A)`, out_mask, log_reward `(K,)`, terminal).
        """
        env = self.env
        parents, parent_actions, in_mask = env.parents(states)
        K, P, D = parents.shape
        sel = in_mask.reshape(-1)
        terminal = env.is_terminal(states)
        interior = ~terminal
        par_rows = parents.reshape(K * P, D)[sel]
        # each distinct state goes through the network once (parents of one state are visited states of
        # the trajectory, and trajectories share prefixes): same values and gradients, about half the rows
        if self.target is None:  # one forward pass over the parents and the interior states
            uniq, inverse = unique_rows(torch.cat([par_rows, states[interior]]))
            out = self.net(env.features(uniq))[inverse]
            par_out, next_out = out[: len(par_rows)], out[len(par_rows) :]
        else:  # out-flows from the EMA target, no gradient (thesis §5.3.4)
            uniq, inverse = unique_rows(par_rows)
            par_out = self.net(env.features(uniq))[inverse]
            with torch.no_grad():
                uniq, inverse = unique_rows(states[interior])
                next_out = self.target(env.features(uniq))[inverse]
        in_edges = par_out.new_zeros(K * P)
        in_edges[sel] = par_out.gather(1, parent_actions.reshape(-1)[sel, None]).squeeze(1)
        out_edges = par_out.new_zeros(K, env.n_actions)
        out_edges[interior] = next_out
        return (
            in_edges.view(K, P),
            in_mask,
            out_edges,
            env.forward_mask(states),
            env.log_reward(states).float(),
            terminal,
        )

    def _log_pb(self, next_states: torch.Tensor) -> torch.Tensor:
        """log P_B(s|s') of the uniform backward policy over the parent edges of s'."""
        return -self.env.parents(next_states)[2].sum(-1).clamp_min(1).float().log()

    def _db_loss(self, trajs: Trajectories):
        env = self.env
        s, a, s_next = trajs.transitions()
        terminal = env.is_terminal(s_next)
        interior = ~terminal
        out = self.net(env.features(torch.cat([s, s_next[interior]])))
        head, nxt = out[: len(s)], out[len(s) :]
        log_pf = masked_log_softmax(head[:, :-1], env.forward_mask(s)).gather(1, a[:, None]).squeeze(1)
        log_F_next = head.new_zeros(len(s))
        log_F_next[interior] = nxt[:, -1]
        loss = detailed_balance_loss(
            head[:, -1], log_pf, log_F_next, self._log_pb(s_next), env.log_reward(s_next), terminal
        )
        return loss, {}

    def _tb_loss(self, trajs: Trajectories):
        env = self.env
        s, a, s_next = trajs.transitions()
        which = torch.nonzero(trajs.valid())[:, 0]  # trajectory of each transition
        log_pf = masked_log_softmax(self.logits(s), env.forward_mask(s)).gather(1, a[:, None]).squeeze(1)
        B = len(trajs.lengths)
        sum_pf = log_pf.new_zeros(B).index_add(0, which, log_pf)
        sum_pb = log_pf.new_zeros(B).index_add(0, which, self._log_pb(s_next))
        loss = trajectory_balance_loss(self.log_Z, sum_pf, sum_pb, env.log_reward(trajs.terminal))
        return loss, {"log_Z": float(self.log_Z.detach())}

    # -- checkpoints ------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "log_Z": self.log_Z.data,
            "target": None if self.target is None else self.target.state_dict(),
            "replay": None if self.replay is None else self.replay.state_dict(),
            "generator": None if self.generator is None else self.generator.get_state(),
        }

    def load_state_dict(self, d: dict) -> None:
        self.net.load_state_dict(d["net"])
        self.optimizer.load_state_dict(d["optimizer"])
        self.log_Z.data.copy_(d["log_Z"])
        if self.target is not None:
            self.target.load_state_dict(d["target"])
        if self.replay is not None:
            self.replay.load_state_dict(d["replay"])
        if self.generator is not None:
            self.generator.set_state(d["generator"])
