"""Sign variance of TD errors in windows of 5 (§S2.2): the thesis's footnote example and segment masking."""

import numpy as np
import pytest

from replab.probe.sign_variance import sign_variance, td_errors


def _footnote(values):
    v = np.array(values, float)  # no reward, γ = 1: δ_t = V(x_t) − V(x_{t+1})
    return td_errors(v[:-1], np.zeros(5), v[1:], np.ones(5))


def test_footnote_example_same_mean_error_different_sign_variance():
    smooth, zigzag = _footnote([1, 2, 3, 4, 5, 6]), _footnote([1, 2, 1, 2, 1, 2])
    assert np.abs(smooth).mean() == pytest.approx(1.0) and np.abs(zigzag).mean() == pytest.approx(1.0)
    assert sign_variance(smooth) == pytest.approx(0.0, abs=1e-15)
    # signs (−1, 1, −1, 1, −1): mean −0.2, variance 1 − 0.04
    assert sign_variance(zigzag) == pytest.approx(0.96, rel=1e-12)


def test_windows_never_straddle_two_trajectories():
    delta = np.array([1, 1, 1, 1, 1, -1, -1, -1, -1, -1], float)
    assert sign_variance(delta, [0] * 5 + [1] * 5) == pytest.approx(0.0, abs=1e-15)
    whole = sign_variance(delta)  # as one trajectory, 4 of the 6 windows mix the signs
    expected = np.mean([np.var(np.sign(delta[i : i + 5])) for i in range(6)])
    assert whole == pytest.approx(expected, rel=1e-12) and whole > 0.3


def test_short_input_and_bad_shapes():
    assert np.isnan(sign_variance([1.0, -1.0]))
    with pytest.raises(ValueError, match="segments must have delta's shape"):
        sign_variance(np.ones(6), [0, 1])
    with pytest.raises(ValueError, match="1-D of one length"):
        td_errors([1.0], [0.0, 0.0], [1.0], [1.0])
