"""Reward prediction as an auxiliary objective: r̂ = g([f(o), a]), loss ‖r̂ − r‖² on replay batches.

In the spirit of UNREAL's reward prediction (Jaderberg et al. 2017, "Reinforcement learning with
unsupervised auxiliary tasks", §3.2), which classifies the sign of the next reward from past frames;
here a regression of the stored reward from (observation, action), which any agent of the protocol
(`replab.rl.agent`) can carry beside CURL: `agent.add_aux(RewardPrediction(...), coef)`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class RewardPrediction(nn.Module):
    """`loss(batch, *, features=None) -> (Tensor, metrics)`; `parameters()` is the prediction MLP.

    encoder: the agent's online encoder f (obs → (B, feature_dim)); it is not a submodule: the agent owns
    and steps it. n_actions: one-hot for discrete actions; action_dim: continuous actions (pass one).
    view: obs → the encoder's input when the agent passes no `features` (e.g. its deterministic crop).
    """

    def __init__(
        self,
        encoder: nn.Module,
        feature_dim: int,
        *,
        n_actions: int | None = None,
        action_dim: int | None = None,
        hidden: int = 256,
        view: Callable[[Tensor], Tensor] | None = None,
    ):
        super().__init__()
        if (n_actions is None) == (action_dim is None):
            raise ValueError(
                f"pass exactly one of n_actions (discrete) and action_dim, got {n_actions}, {action_dim}"
            )
        if feature_dim < 1 or hidden < 1:
            raise ValueError(f"feature_dim and hidden must be >= 1, got {feature_dim}, {hidden}")
        self._encoder = (encoder,)  # a tuple hides it from nn.Module: the agent owns f
        self.n_actions, self.view = n_actions, view
        width = n_actions if n_actions is not None else action_dim
        self.mlp = nn.Sequential(nn.Linear(feature_dim + width, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def _actions(self, action: Tensor) -> Tensor:
        if self.n_actions is not None:
            return F.one_hot(action.long().view(-1), self.n_actions).float()
        return action.float().view(action.shape[0], -1)

    def loss(self, batch, *, features: Tensor | None = None) -> tuple[Tensor, dict[str, float]]:
        """MSE of the predicted reward; `features`: the agent's encoding of `batch.obs` (with gradient)."""
        if features is None:
            obs = batch.obs if self.view is None else self.view(batch.obs)
            features = self._encoder[0](obs)
        pred = self.mlp(torch.cat([features, self._actions(batch.action)], dim=1)).squeeze(1)
        loss = F.mse_loss(pred, batch.reward.float())
        return loss, {"loss/reward_prediction": float(loss.detach())}
