"""Synthetic and package-shipped sequence tasks for long-range memory, generated from a seed (no download).

* `sequential_digits`: scikit-learn's 8×8 digits read pixel by pixel (L = 64, or L = size² after bilinear
  upsampling), optionally under one fixed random permutation of the pixels (the "permuted" variant of
  sequential MNIST, Le et al. 2015).
* `delayed_recall`: the copy / delayed-recall problem (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016):
  a pattern of `pattern_length` symbols, `delay` − 1 blanks, a recall cue, then `pattern_length` blanks
  during which the pattern must be output. Chance accuracy is 1 / n_symbols.
* `adding_problem` (Hochreiter & Schmidhuber 1997; Le et al. 2015 variant): two channels, random values
  U[0, 1] and a marker that is 1 at one position in each half; the target is the sum of the two marked
  values. Predicting 1 gives MSE ≈ 0.167.
* `selective_copying` (Gu & Dao 2023, Mamba §3.1): `n_memorize` tokens scattered at random positions among
  blanks; after them, `n_memorize` cue tokens, at which the tokens must be output in order.

The generators take a `numpy.random.Generator` (a named stream of the run) and return torch tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class SequenceSplit:
    """Train and test sequences: x (n, L, d) floats, y (n,) labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def sequential_digits(
    *,
    permuted: bool = False,
    size: int = 8,
    test_fraction: float = 0.25,
    rng: np.random.Generator | None = None,
) -> SequenceSplit:
    """Digits as pixel sequences (n, size², 1), standardised with the training split's statistics.

    The split and the pixel permutation are drawn from `rng` (default seed 0). 1,797 images, 10 classes.
    """
    from sklearn.datasets import load_digits

    if not 8 <= size <= 64:
        raise ValueError(f"size must be in [8, 64], got {size}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = rng if rng is not None else np.random.default_rng(0)
    data = load_digits()
    images = torch.from_numpy(data.images.astype(np.float32))[:, None] / 16.0
    if size != 8:
        images = torch.nn.functional.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False
        )
    x = images.reshape(len(images), size * size, 1)
    order = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = torch.from_numpy(order[:n_test]), torch.from_numpy(order[n_test:])
    if permuted:
        x = x[:, torch.from_numpy(rng.permutation(size * size))]
    mean, std = x[train].mean(), x[train].std()
    x = (x - mean) / std
    y = torch.from_numpy(data.target.astype(np.int64))
    return SequenceSplit(x[train], y[train], x[test], y[test])


def delayed_recall(
    rng: np.random.Generator, batch: int, *, delay: int = 100, pattern_length: int = 10, n_symbols: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Copy task: tokens x (B, L) with L = delay + 2·pattern_length, targets y (B, pattern_length).

    Token ids: 0 blank, 1..n_symbols the symbols, n_symbols + 1 the recall cue at step
    pattern_length + delay − 1. The targets y (symbols as classes 0..n_symbols−1) are due at the last
    pattern_length steps, i.e. `delay + pattern_length` steps after each symbol was shown.
    """
    if delay < 1 or pattern_length < 1 or n_symbols < 2 or batch < 1:
        raise ValueError(
            f"need delay >= 1, pattern_length >= 1, n_symbols >= 2, batch >= 1; got {delay}, "
            f"{pattern_length}, {n_symbols}, {batch}"
        )
    length = delay + 2 * pattern_length
    pattern = rng.integers(0, n_symbols, size=(batch, pattern_length))
    x = np.zeros((batch, length), dtype=np.int64)
    x[:, :pattern_length] = pattern + 1
    x[:, pattern_length + delay - 1] = n_symbols + 1
    return torch.from_numpy(x), torch.from_numpy(pattern)


def adding_problem(rng: np.random.Generator, batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (B, L, 2) = (values U[0,1], marker), y (B,) = sum of the values at the two markers.

    One marker is uniform in the first half and one in the second half of the sequence.
    """
    if length < 2 or batch < 1:
        raise ValueError(f"need length >= 2 and batch >= 1, got length={length}, batch={batch}")
    values = rng.random((batch, length)).astype(np.float32)
    half = length // 2
    first = rng.integers(0, half, size=batch)
    second = rng.integers(half, length, size=batch)
    marker = np.zeros((batch, length), dtype=np.float32)
    rows = np.arange(batch)
    marker[rows, first] = 1.0
    marker[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    return torch.from_numpy(np.stack([values, marker], axis=-1)), torch.from_numpy(y)


def selective_copying(
    rng: np.random.Generator, batch: int, length: int, *, n_memorize: int = 8, n_tokens: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens x (B, length + n_memorize), targets y (B, n_memorize) due at the last n_memorize steps.

    Token ids: 0 blank, 1..n_tokens data tokens, n_tokens + 1 the cue. The data tokens sit at
    `n_memorize` sorted random distinct positions of the first `length` steps; y lists them in order as
    classes 0..n_tokens−1.
    """
    if not 1 <= n_memorize <= length or n_tokens < 2 or batch < 1:
        raise ValueError(
            f"need 1 <= n_memorize <= length, n_tokens >= 2, batch >= 1; got n_memorize={n_memorize}, "
            f"length={length}, n_tokens={n_tokens}, batch={batch}"
        )
    tokens = rng.integers(0, n_tokens, size=(batch, n_memorize))
    positions = np.sort(np.argsort(rng.random((batch, length)), axis=1)[:, :n_memorize], axis=1)
    x = np.zeros((batch, length + n_memorize), dtype=np.int64)
    np.put_along_axis(x, positions, tokens + 1, axis=1)
    x[:, length:] = n_tokens + 1
    return torch.from_numpy(x), torch.from_numpy(tokens)
