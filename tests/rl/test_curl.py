"""The CURL objective: a hand-computed value, keys without gradient, EMA math, 20-step descent."""

import math

import pytest
import torch
from torch import nn

from replab.rl.curl import CURL, curl_projection


class B:
    def __init__(self, obs):
        self.obs = obs


def identity(x):
    return x


def test_loss_matches_a_hand_computed_value():
    enc = nn.Identity()
    curl = CURL(enc, 2, augment=identity, momentum=0.9)
    with torch.no_grad():
        curl.W.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    obs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss, metrics = curl.loss(B(obs))
    # q = k = obs; logits = q W kᵀ = [[1, 0], [0, 2]]; CE = mean(−log softmax diagonal)
    expected = 0.5 * ((math.log(math.e + 1) - 1) + (math.log(1 + math.e**2) - 2))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert metrics["train/curl_accuracy"] == 1.0
    assert curl.logits(obs).shape == (2, 2)


def make_curl(**kw):
    torch.manual_seed(0)
    enc = nn.Sequential(nn.Flatten(), nn.Linear(12, 8))
    gen = torch.Generator().manual_seed(0)

    def aug(x):
        return x + 0.05 * torch.randn(x.shape, generator=gen)

    return enc, CURL(enc, 4, augment=aug, projection=curl_projection(8, 16, 4), **kw)


def test_keys_get_no_gradient_and_parameters_exclude_the_encoder():
    enc, curl = make_curl()
    loss, _ = curl.loss(B(torch.randn(6, 3, 2, 2)))
    loss.backward()
    assert all(p.grad is None for p in curl.key_encoder.parameters())
    assert all(p.grad is None for p in curl.key_projection.parameters())
    assert curl.W.grad is not None and all(p.grad is not None for p in enc.parameters())
    ids = {id(p) for p in curl.parameters()}
    assert id(curl.W) in ids and not ids & {id(p) for p in enc.parameters()}
    _, quirk = make_curl(double_step_encoder=True)
    assert {id(p) for p in quirk.encoder.parameters()} <= {id(p) for p in quirk.parameters()}


def test_ema_update_of_the_key_encoder():
    enc, curl = make_curl(momentum=0.9)
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(1.0)
    before = [p.clone() for p in curl.key_encoder.parameters()]
    curl.update_key_encoder()
    for k, b, q in zip(curl.key_encoder.parameters(), before, enc.parameters()):
        assert torch.allclose(k, 0.9 * b + 0.1 * q)


def test_loss_falls_in_20_sgd_steps_for_each_variant():
    for kw in ({}, {"similarity": "cosine", "temperature": 0.1}, {"key": "shared"}):
        enc, curl = make_curl(**kw)
        opt = torch.optim.SGD(list(enc.parameters()) + list(curl.parameters()), lr=0.1)
        obs = torch.randn(16, 3, 2, 2, generator=torch.Generator().manual_seed(1))
        losses = []
        for _ in range(20):
            loss, _ = curl.loss(B(obs))
            opt.zero_grad()
            loss.backward()
            opt.step()
            curl.update_key_encoder()
            losses.append(loss.item())
        assert losses[-1] < 0.9 * losses[0], kw  # a sign or detach bug makes it rise


def test_arguments_are_validated():
    with pytest.raises(ValueError, match="similarity"):
        CURL(nn.Identity(), 2, augment=identity, similarity="dot")
    with pytest.raises(ValueError, match="momentum"):
        CURL(nn.Identity(), 2, augment=identity, momentum=1.5)
