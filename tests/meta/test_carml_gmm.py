"""The trajectory-level mixture (seed003 §C.2.4, Eqs. 4.16–4.19): responsibilities against a brute-force
product of Gaussian densities, trajectory-level k-means against explicit sums, EM's monotone likelihood, and the
reward's preference for a component's own mode; the reservoir's inclusion probability."""

import itertools

import numpy as np
from scipy.stats import multivariate_normal

from replab.meta.gmm import TrajectoryGMM, trajectory_kmeans
from replab.meta.reservoir import Reservoir
from replab.meta.scaffold import Scaffold


def _data(seed=0, n=60, t=4, d=3, k=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2, (k, d))
    z = rng.integers(0, k, n)
    return centres[z][:, None] + rng.normal(0, 1, (n, t, d)), z


def test_responsibilities_match_brute_force_products():
    x, _ = _data()
    gmm = TrajectoryGMM(3, iters=5).fit(x)
    log_q, ll = gmm.responsibilities(x)
    # brute force: Π_t N(x_t; μ_k, Σ_k) as plain products of densities (no log space; fine for T = 4)
    joint = np.array(
        [
            [gmm.weights[k] * np.prod([multivariate_normal(gmm.means[k], gmm.covs[k]).pdf(s) for s in traj])
             for k in range(3)]
            for traj in x
        ]
    )  # fmt: skip
    np.testing.assert_allclose(np.exp(log_q), joint / joint.sum(1, keepdims=True), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(np.exp(ll), joint.sum(1), rtol=1e-6)


def test_log_space_survives_long_trajectories():
    x, _ = _data(t=2000)  # Π of 2000 densities underflows float64; the log-space responsibilities do not
    gmm = TrajectoryGMM(3, iters=3).fit(x)
    log_q, _ = gmm.responsibilities(x)
    assert np.isfinite(log_q).all()
    np.testing.assert_allclose(np.exp(log_q).sum(1), 1.0, rtol=1e-9)


def test_trajectory_kmeans_is_the_argmin_of_summed_distances():
    x, _ = _data(seed=1, t=5)
    labels, centres = trajectory_kmeans(x, 3, seed=0)
    cost = ((x[:, :, None] - centres[None, None]) ** 2).sum(-1).sum(1)  # Σ_t ‖x_t − μ_k‖² (N, K)
    # each label is an argmin of the summed distances up to round-off (k-means on trajectory means is the
    # same problem; a near-tie may fall either way on another CPU)
    chosen = cost[np.arange(len(labels)), labels]
    assert np.all(chosen <= cost.min(1) * (1 + 1e-9) + 1e-9)
    for k in range(3):  # the centroid is the mean over all states of its trajectories
        np.testing.assert_allclose(centres[k], x[labels == k].reshape(-1, 3).mean(0), atol=1e-6)


def test_em_never_decreases_the_likelihood_and_recovers_the_clusters():
    x, z = _data(seed=2, n=120)
    gmm = TrajectoryGMM(3, iters=50, tol=0).fit(x)
    h = np.array(gmm.history)
    assert (np.diff(h) >= -1e-8).all()
    pred = gmm.responsibilities(x)[0].argmax(1)
    agree = max((np.array(p)[pred] == z).mean() for p in itertools.permutations(range(3)))
    assert agree > 0.95


class _Identity:
    def __call__(self, f):
        return f


def test_reward_is_higher_for_the_component_whose_mode_the_state_is_at():
    x, _ = _data(seed=4)
    gmm = TrajectoryGMM(3, iters=20).fit(x)
    sc = Scaffold(encoder=None, whitening=_Identity(), gmm=gmm, lam=0.99)
    sc.features = lambda obs: obs  # states are already features here
    for k in range(3):
        r = [sc.reward(gmm.means[k][None], np.array([j]))[0] for j in range(3)]
        assert int(np.argmax(r)) == k


def test_reservoir_keeps_capacity_with_uniform_inclusion():
    hits = np.zeros(100)
    for rep in range(300):
        res = Reservoir(10, seed=rep)
        for i in range(0, 100, 7):
            res.add({"i": np.arange(i, min(i + 7, 100))})
        assert len(res) == 10 and res.seen == 100
        hits[res.stacked("i")] += 1
    p = hits / 300  # each of 100 items kept with probability 10 / 100
    assert abs(p.mean() - 0.1) < 1e-9 and p.std() < 0.03 and p.min() > 0.02
