"""The masked-digits MDP (§S2.6a): window, reveal, rewards, truncation; the batch equals one episode at a time."""

import numpy as np
import pytest
import torch

from replab.envs.masked_digits import MaskedDigits, load_digits_split

UP, DOWN, LEFT, RIGHT = range(4)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


def test_split_sizes_and_range(digits):
    (x, y), (xt, yt) = digits
    assert x.shape == (1297, 8, 8) and xt.shape == (500, 8, 8) and len(y) == 1297 and len(yt) == 500
    assert float(x.min()) >= 0 and float(x.max()) <= 1 and float(x.max()) > 0.9


def test_first_observation_is_the_centred_window(digits):
    (x, y), _ = digits
    env = MaskedDigits(x, y)
    obs = env.reset([0, 5])
    mask = torch.zeros(8, 8)
    mask[2:6, 2:6] = 1
    assert obs.shape == (2, 2, 8, 8)
    assert torch.equal(obs[:, 0], mask.expand(2, 8, 8))
    assert torch.equal(obs[1, 1], x[5] * mask)


def test_moves_reveal_accumulate_and_clip(digits):
    (x, y), _ = digits
    env = MaskedDigits(x, y)
    env.reset([3])
    wrong = torch.tensor([(int(y[3]) + 1) % 10])
    obs, r, term, trunc = env.step(wrong, torch.tensor([UP]))
    assert float(r) == pytest.approx(-0.1) and not term and not trunc
    assert torch.equal(obs[0, 0].nonzero()[:, 0].unique(), torch.arange(0, 4))  # rows 0..3 now
    obs, *_ = env.step(wrong, torch.tensor([UP]))  # clipped: stays at the top
    assert torch.equal(obs[0, 0].nonzero()[:, 0].unique(), torch.arange(0, 4))
    obs, *_ = env.step(wrong, torch.tensor([LEFT]))
    revealed = torch.zeros(8, 8, dtype=torch.bool)
    revealed[2:6, 2:6] = revealed[0:4, 2:6] = revealed[0:4, 0:4] = True
    assert torch.equal(obs[0, 1], x[3] * revealed)


def test_right_class_ends_with_plus_one_and_ten_wrong_steps_truncate(digits):
    (x, y), _ = digits
    env = MaskedDigits(x, y)
    env.reset([7, 8])
    classes = torch.stack([y[7], (y[8] + 1) % 10])
    _, r, term, trunc = env.step(classes, torch.tensor([DOWN, RIGHT]))
    assert r.tolist() == pytest.approx([1.0, -0.1]) and term.tolist() == [True, False]
    env.reset([8])
    for t in range(10):
        _, r, term, trunc = env.step((y[8:9] + 1) % 10, torch.tensor([t % 4]))
        assert not term and bool(trunc) == (t == 9)


def test_batch_equals_one_episode_at_a_time(digits):
    (x, y), _ = digits
    rng = np.random.default_rng(0)
    seeds = rng.integers(0, len(x), 6)
    classes = torch.as_tensor(rng.integers(0, 10, (10, 6)))
    moves = torch.as_tensor(rng.integers(0, 4, (10, 6)))
    batch = MaskedDigits(x, y)
    obs_b = [batch.reset(seeds)]
    out_b = []
    for t in range(10):
        o, r, te, tr = batch.step(classes[t], moves[t])
        obs_b.append(o)
        out_b.append((r, te, tr))
    for i, s in enumerate(seeds):
        one = MaskedDigits(x, y)
        assert torch.equal(one.reset([s])[0], obs_b[0][i])
        for t in range(10):
            o, r, te, tr = one.step(classes[t, i : i + 1], moves[t, i : i + 1])
            assert torch.equal(o[0], obs_b[t + 1][i])
            assert float(r) == float(out_b[t][0][i]) and bool(te) == bool(out_b[t][1][i])


def test_bad_input(digits):
    (x, y), _ = digits
    env = MaskedDigits(x, y)
    with pytest.raises(ValueError, match="seeds must be a 1-D batch of image indices"):
        env.reset([5000])
    env.reset([0])
    with pytest.raises(ValueError, match=r"classes must lie in \[0, 10\)"):
        env.step(torch.tensor([10]), torch.tensor([0]))
    with pytest.raises(ValueError, match=r"images must be \(N, 8, 8\)"):
        MaskedDigits(torch.zeros(3, 4, 4), torch.zeros(3))
