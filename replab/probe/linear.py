"""Linear probes: the accuracy of a linear classifier fitted on frozen features."""

from __future__ import annotations

import torch
import torch.nn.functional as F

METHODS = ("lbfgs", "sgd")


def linear_probe(
    train_feats: torch.Tensor,
    train_y: torch.Tensor,
    test_feats: torch.Tensor,
    test_y: torch.Tensor,
    *,
    method: str = "lbfgs",
    l2: float = 1e-4,
    max_iter: int = 200,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 64,
    generator: torch.Generator | None = None,
) -> float:
    """Test accuracy of a multinomial logistic-regression probe fitted on frozen features.

    Features (N, ...) are flattened and standardised with the training split's mean and std.

    - `method="lbfgs"` (default): full-batch L-BFGS on the L2-regularised cross-entropy, run to
      convergence; deterministic, seconds on CPU, and the test split is used only once, for the score.
    - `method="sgd"`: the tunnel-effect code's protocol (seed002 §1.2): an `nn.Linear` trained with Adam
      on minibatches for `epochs` epochs, reporting the *best* test accuracy over epochs (which selects on
      the test split, so it reads slightly optimistic). Minibatch order comes from `generator`.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    xtr = train_feats.detach().reshape(train_feats.shape[0], -1).float()
    xte = test_feats.detach().reshape(test_feats.shape[0], -1).float().to(xtr.device)
    ytr, yte = train_y.long().to(xtr.device), test_y.long().to(xtr.device)
    if xtr.shape[0] != ytr.shape[0] or xte.shape[0] != yte.shape[0]:
        raise ValueError("features and labels must have the same number of examples")
    mean, std = xtr.mean(0), xtr.std(0).clamp_min(1e-6)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    classes = int(max(ytr.max(), yte.max())) + 1
    layer = torch.nn.Linear(xtr.shape[1], classes, device=xtr.device)
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)

    def accuracy() -> float:
        with torch.no_grad():
            return float((layer(xte).argmax(1) == yte).float().mean())

    with torch.enable_grad():
        if method == "lbfgs":
            opt = torch.optim.LBFGS(
                layer.parameters(),
                lr=1,
                max_iter=max_iter,
                history_size=20,
                line_search_fn="strong_wolfe",
                tolerance_grad=1e-6,
            )

            def closure():
                opt.zero_grad()
                loss = F.cross_entropy(layer(xtr), ytr) + l2 * layer.weight.pow(2).sum()
                loss.backward()
                return loss

            opt.step(closure)
            return accuracy()
        opt = torch.optim.Adam(layer.parameters(), lr=lr)
        best = 0.0
        for _ in range(epochs):
            order = torch.randperm(xtr.shape[0], generator=generator).to(xtr.device)
            for i in range(0, xtr.shape[0], batch_size):
                idx = order[i : i + batch_size]
                opt.zero_grad()
                F.cross_entropy(layer(xtr[idx]), ytr[idx]).backward()
                opt.step()
            best = max(best, accuracy())
        return best
