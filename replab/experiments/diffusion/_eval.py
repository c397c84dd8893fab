"""The digits data and the sample metrics of seed003 A.7: FD on a small classifier's features, conditional
accuracy, nearest-neighbour distance to the training set, and the floors they are judged against."""

from __future__ import annotations

import numpy as np
import torch

from replab.data.digits_pm1 import load_digits_pm1
from replab.data.split import stratified_split
from replab.diffusion.metrics import (
    accuracy,
    frechet_distance,
    gaussian_stats,
    nearest_neighbour_distance,
    train_classifier,
)
from replab.experiments.diffusion._config import draw_samples, train_rin, unit_seed
from replab.experiments.diffusion._reads import (
    ATTENTION_SAMPLES,
    ATTENTION_TIMES,
    image_maps,
    sample_with_reads,
)

GRID = 40
"""Samples kept in the results for the report's sample grid (4 per class)."""


def digits(image_size: int, rng: np.random.Generator) -> dict:
    """Digits in [−1, 1], split 80/20 (stratified): the diffusion models and the classifier train on
    the training part; the held-out part gives the real-data reference of every metric."""
    x, y = load_digits_pm1(image_size)
    tr, te = stratified_split(x.numpy(), y.numpy(), 0.2, rng)
    return {"x": x[tr], "y": y[tr], "test_x": x[te], "test_y": y[te]}


class Evaluator:
    """Classifier and reference statistics, made once per seed; `__call__(samples, labels)` measures."""

    def __init__(self, data: dict, *, classifier_steps: int, generator: torch.Generator):
        self.data = data
        self.clf = train_classifier(data["x"], data["y"], steps=classifier_steps, generator=generator)
        with torch.no_grad():
            self.ref = gaussian_stats(self.clf.features(data["x"]).numpy())
        self.classifier_accuracy = accuracy(self.clf, data["test_x"], data["test_y"])

    def fd(self, images: torch.Tensor) -> float:
        with torch.no_grad():
            return frechet_distance(*gaussian_stats(self.clf.features(images).numpy()), *self.ref)

    def __call__(self, samples: torch.Tensor, labels: torch.Tensor) -> dict:
        return {
            "fd": self.fd(samples),
            "cond_acc": accuracy(self.clf, samples, labels),
            "nn_dist": nearest_neighbour_distance(samples, self.data["x"]),
        }

    def references(self, n: int, generator: torch.Generator) -> dict:
        """The real held-out digits (the best a model can be, at this sample size) and the floor: n images
        drawn pixel by pixel from independent Gaussians with the training data's per-pixel mean and std,
        clipped to [−1, 1] (knows the marginals, not the digits)."""
        x = self.data["x"]
        noise = torch.randn((n, *x.shape[1:]), generator=generator)
        floor = (x.mean(0) + x.std(0) * noise).clamp(-1, 1)
        floor_labels = torch.randint(0, 10, (n,), generator=generator)
        return {
            "real": self(self.data["test_x"], self.data["test_y"]),
            "floor": self(floor, floor_labels),
            "classifier_accuracy": self.classifier_accuracy,
        }


def balanced_labels(n: int, classes: int = 10) -> torch.Tensor:
    """n labels cycling through the classes (the first GRID form the sample grid: 4 per class)."""
    return torch.arange(n) % classes


def grid(samples: torch.Tensor) -> list:
    """The first GRID samples as nested lists, rounded (JSON results for the report's figure)."""
    return np.round(samples[:GRID].numpy().astype(np.float64), 3).tolist()


def digits_unit(cfg, run, key: str, ev: Evaluator, labels, *, rate: float, steps: int, bar, shown, **arch):
    """One model on the digits: initialised from the run's `init/<seed>` stream (so models of a seed
    start alike where their shapes agree), trained by Algorithm 1 at `rate`, sampled with its EMA weights
    (latents carried over iff rate > 0: A.8) and scored; the first ATTENTION_SAMPLES labels are sampled
    again from their own stream with the read attention captured for the report's maps. `arch`: `blocks`,
    `depth` overrides."""
    unit_seed(run, f"init/{key.split('/')[-1]}")
    model = cfg.model(1, 10, **arch)
    data = ev.data
    ema, info = train_rin(
        cfg, run, key, model, data["x"], data["y"], rate=rate, steps=steps, bar=bar, shown=shown
    )
    samples = draw_samples(cfg, run, key, ema, labels, self_condition=rate > 0, bar=bar, shown=shown)
    metrics = ev(samples, labels)
    run.log({f"eval/{key}/{k}": v for k, v in metrics.items()}, info["steps"])
    shown_samples, reads = sample_with_reads(
        cfg, ema, ATTENTION_SAMPLES, run.generator(f"attention/{key}", run.device), ATTENTION_TIMES,
        self_condition=rate > 0, y=labels[:ATTENTION_SAMPLES].to(run.device),
    )  # fmt: skip
    attention = {
        "maps": image_maps(reads, cfg.image_size // cfg.patch, ATTENTION_SAMPLES),
        "grid": np.round(shown_samples.numpy().astype(np.float64), 3).tolist(),
    }
    return {**info, **metrics, "grid": grid(samples), "attention": attention}
