"""LayerProbe: representations at named layers, captured with forward hooks, and per-layer diagnostics."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from replab.probe.linear import linear_probe
from replab.probe.rank import numerical_rank, srank


class LayerProbe:
    """Capture the outputs of `layers` (names from `model.named_modules()`) of `model`.

    The model is run under `torch.no_grad()` in eval mode (its previous mode is restored), so capturing
    never changes it. Each captured output is flattened to (N, D) — the tunnel-effect convention.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str]):
        modules = dict(model.named_modules())
        unknown = [name for name in layers if name not in modules]
        if unknown:
            raise ValueError(f"unknown layers {unknown}; the model has {[n for n in modules if n][:30]}")
        self.model, self.layers = model, list(layers)

    @torch.no_grad()
    def features(self, x: torch.Tensor, batch_size: int = 512) -> dict[str, torch.Tensor]:
        """{layer: (N, D) features} for inputs x (N, ...), computed in minibatches."""
        captured: dict[str, list[torch.Tensor]] = {name: [] for name in self.layers}
        modules = dict(self.model.named_modules())
        hooks = [modules[name].register_forward_hook(self._hook(captured[name])) for name in self.layers]
        was_training = self.model.training
        self.model.eval()
        try:
            for i in range(0, x.shape[0], batch_size):
                self.model(x[i : i + batch_size])
        finally:
            for h in hooks:
                h.remove()
            self.model.train(was_training)
        return {name: torch.cat(chunks) for name, chunks in captured.items()}

    @staticmethod
    def _hook(sink: list):
        def hook(module, inputs, output):
            sink.append(output.detach().reshape(output.shape[0], -1).cpu())

        return hook

    def report(
        self,
        train_x: torch.Tensor,
        train_y: torch.Tensor,
        test_x: torch.Tensor,
        test_y: torch.Tensor,
        *,
        tol: float | None = 1e-3,
        delta: float = 0.01,
        probe_method: str = "lbfgs",
        max_features: int | None = 8000,
        generator: torch.Generator | None = None,
    ) -> list[dict]:
        """Per layer: dim, numerical rank (on test features), srank and linear-probe test accuracy."""
        train, test = self.features(train_x), self.features(test_x)
        rows = []
        for name in self.layers:
            rows.append(
                {
                    "layer": name,
                    "dim": int(test[name].shape[1]),
                    "numerical_rank": numerical_rank(test[name], tol, max_features, generator),
                    "srank": srank(test[name], delta),
                    "probe_acc": linear_probe(
                        train[name], train_y, test[name], test_y, method=probe_method, generator=generator
                    ),
                }
            )
        return rows
