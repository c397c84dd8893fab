"""λ-returns (eq. 3.18): the recursion against the term-by-term sum, λ = 0 the one-step target, λ = 1 the
Monte-Carlo return, on hand-made trajectories with a terminal and with a cut."""

import numpy as np
import pytest

from replab.probe.td_lambda import lambda_return_direct, lambda_returns

GAMMA = 0.9
# two trajectories: rows 0-3 end in a terminal, rows 4-6 are cut (the last stored step is not terminal)
R = np.array([1.0, 0.0, 2.0, 1.0, 0.5, -1.0, 3.0])
V_NEXT = np.array([4.0, 3.0, 2.5, 7.0, 1.5, 2.0, 6.0])  # V(s_{t+1}); row 3's is never used (terminal)
TERMINAL = np.array([0, 0, 0, 1, 0, 0, 0], bool)
LAST = np.array([0, 0, 0, 1, 0, 0, 1], bool)


def test_lambda_zero_is_the_one_step_target():
    g = lambda_returns(R, V_NEXT, TERMINAL, LAST, GAMMA, 0.0)
    expected = R + GAMMA * (1 - TERMINAL) * V_NEXT
    np.testing.assert_allclose(g, expected, rtol=1e-12)


def test_lambda_one_is_the_monte_carlo_return_on_a_terminated_trajectory():
    g = lambda_returns(R, V_NEXT, TERMINAL, LAST, GAMMA, 1.0)
    mc = [sum(GAMMA**j * R[t + j] for j in range(4 - t)) for t in range(4)]  # by hand: 1 + 0.9·0 + ...
    assert mc[0] == pytest.approx(1.0 + 0.0 + 0.81 * 2.0 + 0.729 * 1.0)
    np.testing.assert_allclose(g[:4], mc, rtol=1e-12)
    # a cut trajectory bootstraps once, at its last stored step
    cut = [
        sum(GAMMA**j * R[4 + t + j] for j in range(3 - t)) + GAMMA ** (3 - t) * V_NEXT[6] for t in range(3)
    ]
    np.testing.assert_allclose(g[4:], cut, rtol=1e-12)


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_recursion_equals_the_weighted_sum_of_n_step_returns(lam):
    g = lambda_returns(R, V_NEXT, TERMINAL, LAST, GAMMA, lam)
    direct = [lambda_return_direct(R, V_NEXT, TERMINAL, LAST, GAMMA, lam, t) for t in range(len(R))]
    np.testing.assert_allclose(g, direct, rtol=1e-12)


def test_lambda_half_by_hand_on_a_two_step_episode():
    # G^λ_0 = (1 − λ) G^1 + λ G^2 (G^2 = MC after the terminal): 0.5·(1 + 0.9·4) + 0.5·(1 + 0.9·2)
    g = lambda_returns([1.0, 2.0], [4.0, 9.0], [False, True], [False, True], 0.9, 0.5)
    assert g[0] == pytest.approx(0.5 * (1 + 0.9 * 4) + 0.5 * (1 + 0.9 * 2), rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lam": 1.5}, r"lam must be in \[0, 1\], got 1.5"),
        ({"last": [False, False], "terminal": [False, False]}, "final row must end its trajectory"),
        ({"rewards": [1.0]}, "1-D arrays of one length"),
    ],
)
def test_bad_input_gets_a_one_line_error(kwargs, match):
    args = {
        "rewards": [1.0, 2.0],
        "next_values": [0.0, 0.0],
        "terminal": [False, True],
        "last": [False, True],
    }
    args |= {k: v for k, v in kwargs.items() if k != "lam"}
    with pytest.raises(ValueError, match=match):
        lambda_returns(**args, gamma=0.9, lam=kwargs.get("lam", 0.5))
