"""GFlowNet objectives as pure functions of tensors: flow matching, detailed balance, trajectory balance.

Flow matching is the thesis's objective (seed004 §S4.2, eq. 5.16); detailed and trajectory balance are
the later GFlowNet objectives (Bengio et al. 2023, Malkin et al. 2022), provided for comparison.
"""

from __future__ import annotations

import math

import torch

_NEG = -1e30  # finite stand-in for -inf: a row with no allowed edge keeps finite values and gradients


def log_eps_sum_exp(log_values: torch.Tensor, mask: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """log(ε + Σ_{masked} exp(v)) along the last axis, computed stably as a logsumexp (seed004 §S4.8).

    `log_values (B, K)`, `mask (B, K)` bool; returns `(B,)`. Rows with no allowed entry give log ε
    (or a huge negative number when ε = 0): callers must not use them.
    """
    x = log_values.masked_fill(~mask, _NEG)
    if eps > 0:
        x = torch.cat([x, x.new_full((x.shape[0], 1), math.log(eps))], dim=1)
    return torch.logsumexp(x, dim=-1)


def flow_matching_residual(
    log_in_edges: torch.Tensor,
    in_mask: torch.Tensor,
    log_out_edges: torch.Tensor,
    out_mask: torch.Tensor,
    log_reward: torch.Tensor,
    terminal: torch.Tensor,
    eps: float = 0.0,
) -> torch.Tensor:
    """in(s') − out(s') `(B,)` of eq. 5.16 (see `flow_matching_loss` for the arguments)."""
    inflow = log_eps_sum_exp(log_in_edges, in_mask, eps)
    out_inner = log_eps_sum_exp(log_out_edges, out_mask, eps)
    log_reward = log_reward.to(inflow.dtype)
    out_leaf = (
        torch.logaddexp(log_reward, torch.full_like(log_reward, math.log(eps))) if eps > 0 else log_reward
    )
    return inflow - torch.where(terminal, out_leaf, out_inner)


def flow_matching_loss(
    log_in_edges: torch.Tensor,
    in_mask: torch.Tensor,
    log_out_edges: torch.Tensor,
    out_mask: torch.Tensor,
    log_reward: torch.Tensor,
    terminal: torch.Tensor,
    eps: float = 0.0,
    leaf_coef: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The flow-matching loss in log space with ε (seed004 §S4.2, thesis eq. 5.16), per visited state s'.

    in(s')  = log[ε + Σ_{(s,a): T(s,a)=s'} exp F^log(s,a)]  — over ALL parent edges, not only the
              trajectory's (seed004 §S4.8);
    out(s') = log[ε + R(s')] at a terminal s' (A(s') = ∅, no predicted flow is added), and
              log[ε + Σ_{a' ∈ A(s')} exp F^log(s',a')] at an interior s' (R = 0).

    Args:
        log_in_edges: `(B, P)` predicted log-flows F^log(s, a) of each parent edge of s'.
        in_mask: `(B, P)` bool, which parent slots exist.
        log_out_edges: `(B, A)` predicted log-flows F^log(s', ·) (ignored at terminal s').
        out_mask: `(B, A)` bool, allowed actions A(s').
        log_reward: `(B,)` log R(s') (ignored at interior s').
        terminal: `(B,)` bool.
        eps: ε of eq. 5.16 (0 gives the [REF-CODE] grid loss without ε).
        leaf_coef: λ_T, the weight of terminal ("leaf") transitions (seed004 §S5.3; 1 on the grid).

    Returns `(loss, leaf_loss, inner_loss)`: the λ_T-weighted mean of (in − out)² over the B states, and
    the plain means over terminal and interior states (0 when there are none), for logging.
    """
    sq = flow_matching_residual(
        log_in_edges, in_mask, log_out_edges, out_mask, log_reward, terminal, eps
    ).pow(2)
    leaf = terminal.to(sq.dtype)
    weights = 1.0 + (leaf_coef - 1.0) * leaf
    loss = (sq * weights).mean()
    leaf_loss = (sq * leaf).sum() / leaf.sum().clamp_min(1.0)
    inner_loss = (sq * (1 - leaf)).sum() / (1 - leaf).sum().clamp_min(1.0)
    return loss, leaf_loss.detach(), inner_loss.detach()


def detailed_balance_loss(
    log_F_s: torch.Tensor,
    log_pf: torch.Tensor,
    log_F_next: torch.Tensor,
    log_pb: torch.Tensor,
    log_reward_next: torch.Tensor,
    next_terminal: torch.Tensor,
) -> torch.Tensor:
    """Detailed balance per transition s → s' (Bengio et al. 2023, eq. 14), mean over `(B,)` transitions.

    (log F(s) + log P_F(s'|s) − log F(s') − log P_B(s|s'))², with F(s') := R(s') at terminal s'.
    """
    target = torch.where(next_terminal, log_reward_next.to(log_F_next.dtype), log_F_next)
    return (log_F_s + log_pf - target - log_pb).pow(2).mean()


def trajectory_balance_loss(
    log_Z: torch.Tensor, sum_log_pf: torch.Tensor, sum_log_pb: torch.Tensor, log_reward: torch.Tensor
) -> torch.Tensor:
    """Trajectory balance (Malkin et al. 2022, eq. 14), mean over `(B,)` complete trajectories.

    (log Z + Σ_t log P_F(s_{t+1}|s_t) − log R(x) − Σ_t log P_B(s_t|s_{t+1}))², with learned scalar log Z.
    """
    return (log_Z + sum_log_pf - log_reward.to(sum_log_pf.dtype) - sum_log_pb).pow(2).mean()
