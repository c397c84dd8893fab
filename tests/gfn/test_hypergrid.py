import itertools
import math

import pytest
import torch

from replab.gfn import hypergrid
from replab.gfn.hypergrid import HyperGrid


@pytest.mark.parametrize(
    "R0,Z,p_mode,l1_uniform",
    [(0.1, 503.8, 0.0052, 1.26e-4), (0.01, 164.23, 0.0153, 3.88e-4), (0.001, 130.27, 0.0192, 4.89e-4)],
)
def test_partition_function_matches_spec_for_n4_h8(R0, Z, p_mode, l1_uniform):
    env = hypergrid(4, 8, R0)  # seed004 §S4.3 [DERIVED] values
    assert math.exp(env.log_Z()) == pytest.approx(Z, abs=0.01)
    p = env.true_distribution()
    assert float(p[env.mode_mask()][0]) == pytest.approx(p_mode, abs=5e-5)
    support = env.reachable()
    assert float((p[support] - 1 / support.sum()).abs().mean()) == pytest.approx(l1_uniform, rel=0.01)
    assert float(p.sum()) == pytest.approx(1.0)


def test_reachable_cells_and_modes():
    assert int(HyperGrid(4, 8).reachable().sum()) == 3773  # seed004 §S4.3
    assert int(HyperGrid(2, 8).reachable().sum()) == 63
    env = HyperGrid(4, 8)
    modes = env.cells()[env.mode_mask()]
    assert len(modes) == 16 and set(modes.unique().tolist()) == {1, 6}  # modes are {1, 6}^n for H = 8


def _children(env, states):
    """Brute force: every (parent, action) -> child over all non-terminal states."""
    edges = {}
    for s in states:
        if env.is_terminal(s[None])[0]:
            continue
        for a in torch.nonzero(env.forward_mask(s[None])[0]).squeeze(1).tolist():
            child = env.step(s[None], torch.tensor([a]))[0]
            edges.setdefault(tuple(child.tolist()), set()).add((tuple(s.tolist()), a))
    return edges


@pytest.mark.parametrize("n,H,forced", [(2, 4, True), (3, 4, True), (2, 5, True), (2, 4, False)])
def test_parents_match_brute_force(n, H, forced):
    env = HyperGrid(n, H, forced_termination=forced)
    # every state row: all cells, with and without the stop flag
    rows = [list(c) + [f] for c in itertools.product(range(H), repeat=n) for f in (0, 1)]
    rows = [r for r in rows if not (forced and r[-1] == 1 and max(r[:-1]) == H - 1)]
    states = torch.tensor(rows)
    # only states reachable from s0 have parents in the DAG
    reach, frontier = {tuple([0] * (n + 1))}, [torch.zeros(n + 1, dtype=torch.long)]
    edges = _children(env, states)
    while frontier:
        s = frontier.pop()
        for child, srcs in edges.items():
            if tuple(s.tolist()) in {p for p, _ in srcs} and child not in reach:
                reach.add(child)
                frontier.append(torch.tensor(child))
    parents, actions, mask = env.parents(states)
    for row, par, act, m in zip(states, parents, actions, mask):
        got = {(tuple(p.tolist()), int(a)) for p, a, ok in zip(par, act, m) if ok}
        key = tuple(row.tolist())
        want = {(p, a) for p, a in edges.get(key, set()) if p in reach}
        if key in reach:
            assert got == want, key
            assert all(
                env.step(torch.tensor([p]), torch.tensor([a]))[0].tolist() == list(key) for p, a in got
            )


def test_stop_node_is_distinct_and_forced_termination():
    env = HyperGrid(2, 4)
    s = torch.tensor([[1, 2, 0]])
    stopped = env.step(s, torch.tensor([2]))
    assert (
        stopped.tolist() == [[1, 2, 1]] and env.is_terminal(stopped).item() and not env.is_terminal(s).item()
    )
    # the "s then stop" node has exactly one parent edge: (s, stop)
    par, act, mask = env.parents(stopped)
    assert mask.sum() == 1 and par[0, mask[0]].tolist() == [[1, 2, 0]] and act[0, mask[0]].item() == 2
    forced = env.step(s, torch.tensor([1]))  # coordinate reaches H-1
    assert env.is_terminal(forced).item() and not env.forward_mask(forced).any()
    assert env.forward_mask(s).all()


def test_torchgfn_variant_without_forced_termination():
    env = HyperGrid(2, 4, forced_termination=False)
    assert int(env.reachable().sum()) == 16
    s = torch.tensor([[3, 1, 0]])
    assert not env.is_terminal(s).item() and env.forward_mask(s).tolist() == [[False, True, True]]


def test_constructor_validates():
    for kw in ({"n": 0}, {"H": 1}, {"R0": 0.0}, {"R1": -1.0}):
        with pytest.raises(ValueError):
            HyperGrid(**kw)


def test_features_are_one_hot():
    env = HyperGrid(3, 5)
    f = env.features(torch.tensor([[0, 4, 2, 0]]))
    assert f.shape == (1, 15) and f.sum() == 3 and f[0, 0] == 1 and f[0, 9] == 1 and f[0, 12] == 1
