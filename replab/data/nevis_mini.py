"""NEVIS-mini: a chronological stream of 14 small image tasks built from data the project has (seed002 §7.6).

Every task is a (1, 16, 16) grayscale image task with a year tag and train/dev/test splits (60/15/25%).
Sources: scikit-learn's digits (upsampled to 16×16), procedural glyphs (`replab.data.glyphs`) and glyph
digits on plain colour backgrounds (`replab.data.glyph_digits`, converted to gray). As in NEVIS'22:

- sizes span 60 to 1,500 examples (25×; NEVIS spans four orders of magnitude);
- single-label variants — class subsets, parity, rotation, inversion, noise + blur, a 4×4 downsample,
  a label permutation — and two multi-label tasks scored by mAP: {even, > 4, has a loop} on digits and
  {mirror-symmetric, closed, straight strokes only} on glyph digits;
- a dataset comes back: `digits-1998` and `digits-2015` are the same images and split (as MNIST appears in
  2004 and 2015 in NEVIS);
- one task (`digits-noisy-2009`) has a tiny test set (12 examples).

`nevis_mini_stream(seed, scale)` builds it; `scale` < 1 shrinks every task (at least 30 examples) for
smoke runs. Images are standardised with each task's train-split statistics.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from replab import seeding
from replab.continual.learner import Task

SIZE = 16
# digit classes with each attribute (multi-label tasks)
LOOP = (0, 6, 8, 9)
SYMMETRIC = (0, 1, 8)  # mirror-symmetric glyph shapes
CLOSED = (0, 4, 6, 8, 9)  # a closed region
STRAIGHT = (1, 4, 7)  # straight strokes only

# (name, year, source, transform, n, test) — n: examples in all splits; test: a fixed test size or None
STREAM = (
    ("digits-04-1992", 1992, "digits", "subset04", 600, None),
    ("glyphs-1996", 1996, "glyphs", "none", 1500, None),
    ("digits-1998", 1998, "digits", "none", 1500, None),
    ("digits-parity-2001", 2001, "digits", "parity", 400, None),
    ("digits-rot90-2003", 2003, "digits", "rot90", 800, None),
    ("digits-attributes-2005", 2005, "digits", "attributes", 600, None),
    ("glyph-digits-2007", 2007, "glyph_digits", "none", 1200, None),
    ("digits-inverted-2009", 2009, "digits", "invert", 300, None),
    ("digits-noisy-2010", 2010, "digits", "noise_blur", 250, 12),
    ("glyph-digits-attributes-2013", 2013, "glyph_digits", "shape_attributes", 800, None),
    ("digits-2015", 2015, "digits", "none", 1500, None),
    ("digits-4x4-2017", 2017, "digits", "down4", 500, None),
    ("digits-permuted-2019", 2019, "digits", "permute", 60, None),
    ("digits-179-2020", 2020, "digits", "subset179", 150, None),
)
REPEATS = {"digits-2015": "digits-1998"}
"""Tasks that reuse another task's images and split exactly (the same dataset published again)."""


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32)[:, None] / 16.0)
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return x, torch.from_numpy(d.target.astype(np.int64))


def _source(source: str, n: int, seed: int, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` images (n, 1, 16, 16) in about [0, 1] and their class labels."""
    rng = seeding.rng(seed, f"nevis-mini/{name}")
    if source == "digits":
        x, y = _digits()
        idx = torch.from_numpy(rng.permutation(len(y))[:n])
        return x[idx], y[idx]
    if source == "glyphs":
        from replab.data.glyphs import make_glyphs

        per_class = -(-n // 10)
        x, y = make_glyphs(classes=10, per_class=per_class, size=SIZE, seed=int(rng.integers(2**31)))
        idx = rng.permutation(len(y))[:n]
        return torch.from_numpy(x[idx]), torch.from_numpy(y[idx])
    if source == "glyph_digits":
        from replab.data.glyph_digits import make_glyph_digits

        x, y = make_glyph_digits(n, "digit", SIZE, "train", int(rng.integers(2**31)), background="plain")
        return x.mean(1, keepdim=True), y
    raise ValueError(f"unknown source {source!r}")


def _blur(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([1.0, 2.0, 1.0])
    k = (k[:, None] * k[None]) / 16
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k[None, None])


def _transform(kind: str, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
    """(images, labels, task kind, classes) after the task's transform."""
    if kind in ("none", "rot90", "invert", "noise_blur", "down4", "permute"):
        if kind == "rot90":
            x = torch.rot90(x, 1, (2, 3))
        elif kind == "invert":
            x = 1 - x
        elif kind == "noise_blur":
            x = _blur(x) + 0.3 * torch.randn(x.shape, generator=g)
        elif kind == "down4":
            x = F.interpolate(F.avg_pool2d(x, SIZE // 4), size=(SIZE, SIZE), mode="nearest")
        elif kind == "permute":
            y = torch.randperm(10, generator=g)[y]
        return x, y, "single", 10
    if kind == "parity":
        return x, y % 2, "single", 2
    if kind == "gt4":
        return x, (y > 4).long(), "single", 2
    if kind == "blur":
        return _blur(_blur(x)), y, "single", 10
    if kind in ("subset04", "subset179"):
        keep = (0, 1, 2, 3, 4) if kind == "subset04" else (1, 7, 9)
        mapping = torch.full((10,), -1, dtype=torch.long)
        mapping[list(keep)] = torch.arange(len(keep))
        return x, mapping[y], "single", len(keep)  # rows with -1 are dropped by the caller
    if kind == "attributes":
        labels = torch.stack([y % 2 == 0, y > 4, _member(y, LOOP)], 1).float()
        return x, labels, "multi", 3
    if kind == "shape_attributes":
        labels = torch.stack([_member(y, SYMMETRIC), _member(y, CLOSED), _member(y, STRAIGHT)], 1).float()
        return x, labels, "multi", 3
    raise ValueError(f"unknown transform {kind!r}")


def _member(y: torch.Tensor, classes) -> torch.Tensor:
    return (y[:, None] == torch.tensor(classes)[None]).any(1)


def _split(name, year, source, kind, classes, x, y, test, rng) -> Task:
    n = len(x)
    perm = torch.from_numpy(rng.permutation(n))
    n_test = test if test is not None else max(1, round(0.25 * n))
    n_dev = max(1, round(0.15 * n))
    te, dv, tr = perm[:n_test], perm[n_test : n_test + n_dev], perm[n_test + n_dev :]
    mean, std = x[tr].mean(), x[tr].std().clamp(min=1e-6)
    x = (x - mean) / std
    return Task(name, year, kind, classes, x[tr], y[tr], x[dv], y[dv], x[te], y[te], dataset=source)


def nevis_mini_stream(seed: int = 0, scale: float = 1.0, names=None) -> list[Task]:
    """The NEVIS-mini tasks in chronological order (or only those in `names`, in stream order)."""
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    known = [s[0] for s in STREAM]
    if names is not None:
        bad = [n for n in names if n not in known]
        if bad:
            raise ValueError(f"unknown NEVIS-mini tasks {bad}; the stream has {known}")
    built: dict[str, Task] = {}
    for name, year, source, kind, n, test in STREAM:
        if names is not None and name not in names and name not in REPEATS.values():
            continue
        if name in REPEATS:
            base = built[REPEATS[name]]
            built[name] = Task(
                name, year, base.kind, base.classes, base.train_x, base.train_y, base.dev_x, base.dev_y,
                base.test_x, base.test_y, dataset=base.dataset,
            )  # fmt: skip
            continue
        size = max(30, int(round(n * scale)))
        g = seeding.generator(seed, f"nevis-mini/{name}/transform")
        over = {"subset04": 2, "subset179": 4}.get(kind, 1)  # draw enough of the kept classes
        x, y = _source(source, size * over, seed, name)
        x, y, task_kind, classes = _transform(kind, x, y, g)
        if task_kind == "single":
            keep = y >= 0
            x, y = x[keep][:size], y[keep][:size]
        built[name] = _split(
            name, year, source, task_kind, classes, x, y, test, seeding.rng(seed, f"nevis-mini/{name}/split")
        )
    return [built[s[0]] for s in STREAM if s[0] in built and (names is None or s[0] in names)]
