import math

import pytest
import torch

from replab.gfn.gflownet import GFlowNet
from replab.gfn.hypergrid import HyperGrid
from replab.gfn.losses import (
    detailed_balance_loss,
    flow_matching_loss,
    log_eps_sum_exp,
    trajectory_balance_loss,
)
from replab.gfn.sampler import sample_trajectories


def test_log_eps_sum_exp_known_values():
    x = torch.tensor([[math.log(2.0), math.log(3.0), 100.0]])
    m = torch.tensor([[True, True, False]])
    assert log_eps_sum_exp(x, m).item() == pytest.approx(math.log(5.0))
    assert log_eps_sum_exp(x, m, eps=0.5).item() == pytest.approx(math.log(5.5))


def test_flow_matching_hand_computed():
    # s' with parents flows 1 and 3 (in = log 4) and children flows 1, 1 (out = log 2): residual log 2
    log_in = torch.tensor([[0.0, math.log(3.0)], [math.log(2.0), 0.0]])
    in_mask = torch.tensor([[True, True], [True, False]])
    log_out = torch.tensor([[0.0, 0.0], [5.0, 5.0]])
    out_mask = torch.ones(2, 2, dtype=torch.bool)
    log_r = torch.tensor([0.0, math.log(8.0)])
    terminal = torch.tensor([False, True])  # second: in = log 2, out = log R = log 8 (children ignored)
    loss, leaf, inner = flow_matching_loss(log_in, in_mask, log_out, out_mask, log_r, terminal)
    assert inner.item() == pytest.approx(math.log(2.0) ** 2)
    assert leaf.item() == pytest.approx(math.log(4.0) ** 2)
    assert loss.item() == pytest.approx((math.log(2.0) ** 2 + math.log(4.0) ** 2) / 2)
    weighted, _, _ = flow_matching_loss(log_in, in_mask, log_out, out_mask, log_r, terminal, leaf_coef=10.0)
    assert weighted.item() == pytest.approx((math.log(2.0) ** 2 + 10 * math.log(4.0) ** 2) / 2)
    # with ε: log(ε + 4) vs log(ε + 2)
    loss_eps, _, inner_eps = flow_matching_loss(log_in, in_mask, log_out, out_mask, log_r, terminal, eps=1.0)
    assert inner_eps.item() == pytest.approx(math.log(5.0 / 3.0) ** 2)


class _TableNet(torch.nn.Module):
    """A 'network' returning a fixed table of log-flows looked up by cell (plus a state-flow column)."""

    def __init__(self, env, table, extra=None):
        super().__init__()
        self.env, self.table, self.extra = env, table.float(), extra

    def forward(self, feats):
        coords = feats.view(len(feats), self.env.n, self.env.H).argmax(-1)
        rows = self.table[self.env.flat_index(coords)]
        return (
            rows
            if self.extra is None
            else torch.cat([rows, self.extra[self.env.flat_index(coords)][:, None]], 1)
        )


def test_losses_are_zero_on_exactly_consistent_flows(flows):
    env = HyperGrid(2, 5, R0=0.01)
    table = flows(env)
    g = torch.Generator().manual_seed(0)
    trajs = sample_trajectories(env, lambda s: table[env.flat_index(s)].float(), 64, generator=g)
    s, a, s_next = trajs.transitions()
    # flow matching on every visited state, through the trainer's parent enumeration
    gfn = GFlowNet(env, "fm")
    gfn.net = _TableNet(env, table.clamp_min(-1e4))
    loss, leaf, inner = flow_matching_loss(*gfn.fm_inputs(s_next))
    assert loss.item() < 1e-9 and leaf.item() < 1e-9 and inner.item() < 1e-9
    # detailed balance with F(s) = Σ_a F(s,a), P_F = F(s,a)/F(s), uniform P_B (the flows' own P_B)
    log_F = torch.logsumexp(table, -1)
    log_pf_all = table - log_F[:, None]
    log_pf = log_pf_all[env.flat_index(s), a]
    nxt = env.flat_index(s_next)
    log_pb = -env.parents(s_next)[2].sum(-1).double().log()
    term = env.is_terminal(s_next)
    log_F_next = torch.where(term, torch.zeros_like(log_pf), log_F[nxt])
    db = detailed_balance_loss(
        log_F[env.flat_index(s)], log_pf, log_F_next, log_pb, env.log_reward(s_next), term
    )
    assert db.item() < 1e-18
    # trajectory balance with log Z = log F(s0) = log Σ R
    which = torch.nonzero(trajs.valid())[:, 0]
    sum_pf = torch.zeros(64, dtype=torch.float64).index_add(0, which, log_pf)
    sum_pb = torch.zeros(64, dtype=torch.float64).index_add(0, which, log_pb)
    log_Z = torch.tensor(env.log_Z(), dtype=torch.float64)
    assert log_F[0].item() == pytest.approx(log_Z.item())
    tb = trajectory_balance_loss(log_Z, sum_pf, sum_pb, env.log_reward(trajs.terminal))
    assert tb.item() < 1e-18


def test_flow_matching_sums_over_all_parents_not_only_the_trajectorys(flows):
    env = HyperGrid(2, 5)
    table = flows(env)
    gfn = GFlowNet(env, "fm")
    gfn.net = _TableNet(env, table.clamp_min(-1e4))
    state = torch.tensor([[2, 1, 0]])  # two parents: (1,1) via a0 and (2,0) via a1
    log_in, in_mask = gfn.fm_inputs(state)[:2]
    assert in_mask[0].tolist() == [True, True, False]
    want = torch.logaddexp(
        table[env.flat_index(torch.tensor([[1, 1]])), 0], table[env.flat_index(torch.tensor([[2, 0]])), 1]
    )
    assert log_eps_sum_exp(log_in, in_mask).item() == pytest.approx(want.item(), rel=1e-6)


@pytest.mark.parametrize("objective", ["fm", "db", "tb"])
def test_loss_falls_in_20_sgd_steps(objective):
    torch.manual_seed(0)
    env = HyperGrid(2, 6, R0=0.1)
    gfn = GFlowNet(env, objective, hidden=64, lr=1e-2, generator=torch.Generator().manual_seed(0))
    fixed = sample_trajectories(env, None, 32, generator=torch.Generator().manual_seed(1))

    def loss_now():
        if objective == "fm":
            return flow_matching_loss(*gfn.fm_inputs(fixed.transitions()[2]))[0]
        return (gfn._db_loss if objective == "db" else gfn._tb_loss)(fixed)[0]

    before = loss_now().item()
    for _ in range(20):
        loss = loss_now()
        gfn.optimizer.zero_grad()
        loss.backward()
        gfn.optimizer.step()
    assert loss_now().item() < 0.5 * before
