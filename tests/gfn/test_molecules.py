import pytest
import torch

pytest.importorskip("rdkit")

from replab.gfn.molecules import BlockLibrary, MolEnv, count_modes, mean_pairwise_tanimoto, top_k_mean  # noqa: E402
from replab.gfn.molecules.mcmc import BlockMCMC  # noqa: E402
from replab.gfn.sampler import sample_trajectories  # noqa: E402


@pytest.fixture(scope="module")
def env():
    return MolEnv(max_blocks=3, fp_bits=256)


def test_block_library_uses_the_thesis_blocks():
    lib = BlockLibrary()
    assert len(lib) == 70 and lib.skipped == ["O=P[O-]", "O=S=O"]  # 72 thesis blocks, 2 without a stem
    assert all(1 <= len(b.stems) <= 3 for b in lib.blocks)
    assert len(lib.actions) >= len(lib)


def test_every_sampled_transition_is_a_parent_edge_of_its_child(env):
    trajs = sample_trajectories(env, None, 12, generator=torch.Generator().manual_seed(0))
    s, a, s_next = trajs.transitions()
    par, act, mask = env.parents(s_next)
    for k in range(len(s)):
        edges = {(int(p), int(x)) for p, x, m in zip(par[k, :, 0], act[k], mask[k]) if m}
        assert (int(s[k, 0]), int(a[k])) in edges
        for p, x in edges:  # and every listed parent edge leads back to the child
            assert int(env.step(torch.tensor([[p]]), torch.tensor([x]))[0, 0]) == int(s_next[k, 0])
    assert env.is_terminal(trajs.terminal).all()
    assert all(len(env.state(int(i)).blocks) <= 3 for i in trajs.terminal[:, 0])


def test_isomorphic_block_trees_are_one_state(env):
    # methane then water attached to it, and water then methane attached to it: one tree C-O, one state id
    blocks = [b.smiles for b in env.lib.blocks]
    c, o = env.lib.action_of(blocks.index("C"), 0), env.lib.action_of(blocks.index("O"), 0)
    nb = env.n_block_actions
    c_first = env.step(env.step(env.initial(1), torch.tensor([c])), torch.tensor([0 * nb + o]))
    o_first = env.step(env.step(env.initial(1), torch.tensor([o])), torch.tensor([0 * nb + c]))
    assert int(c_first[0, 0]) == int(o_first[0, 0])
    assert env.info(int(c_first[0, 0]))["smiles"] == "CO"
    # its parents: remove either leaf -> the two one-block states, each with its own edge
    par, act, mask = env.parents(c_first)
    assert int(mask.sum()) == 2


def test_forward_mask_and_rewards(env):
    mask = env.forward_mask(env.initial(1))[0]
    assert mask[: env.n_block_actions].all() and not mask[env.n_block_actions :].any()  # no stop at s0
    trajs = sample_trajectories(env, None, 4, generator=torch.Generator().manual_seed(1))
    rewards = [env.reward(int(i)) for i in trajs.terminal[:, 0]]
    assert all(0.01 <= r <= 10 for r in rewards)
    log_r = env.log_reward(trajs.terminal)
    expected = torch.tensor([10 * (torch.tensor(r).log() - torch.tensor(8.0).log()).item() for r in rewards])
    assert torch.allclose(log_r.float(), expected, atol=1e-4)


def test_metrics_known_values():
    samples = [("CCO", 1.0), ("CCO", 1.0), ("c1ccccc1", 9.0), ("CCN", 5.0)]
    assert top_k_mean(samples, 2) == pytest.approx(7.0)
    assert mean_pairwise_tanimoto(["CCO", "CCO"]) == pytest.approx(1.0)
    assert mean_pairwise_tanimoto(["CCO", "c1ccccc1"]) < 0.2
    assert count_modes(samples, threshold=0.5) == 3
    assert count_modes([("CCCCCCCCO", 9.0), ("CCCCCCCCCO", 9.0)], threshold=8.0) == 1  # near-duplicates merge


def test_mcmc_chains_move_and_stay_valid(env):
    chains = BlockMCMC(env, n_chains=3, generator=torch.Generator().manual_seed(0))
    for _ in range(30):
        ids = chains.step()
    assert len(ids) == 3 and all(env.is_terminal(torch.tensor([[i]])).item() for i in ids)
    assert chains.proposed == 90 and chains.accepted > 0
