import numpy as np
import pytest
import torch

from replab.data.folder import load_folder
from replab.data.glyph_digits import CLASSES, _glyph_pool, make_glyph_digits
from replab.errors import ReplabError


def test_glyph_digits_reproducible_and_labelled():
    x, y = make_glyph_digits(64, "digit", seed=3)
    x2, y2 = make_glyph_digits(64, "digit", seed=3)
    assert x.shape == (64, 3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert 0 <= x.min() and x.max() <= 1 and set(y.tolist()) <= set(range(10))
    xs, ys = make_glyph_digits(64, "sum", size=24, split="test")
    assert xs.shape == (64, 3, 24, 24) and not torch.equal(make_glyph_digits(64, "digit", seed=4)[0], x)


def test_add_and_sum_tasks_share_images_and_differ_in_label():
    # same seed and split draw the same glyph pairs; "sum" is "add" mod 10 (glyph_digits docstring)
    xa, ya = make_glyph_digits(200, "add", size=32, seed=3)
    xs, ys = make_glyph_digits(200, "sum", size=32, seed=3)
    assert torch.equal(xa, xs) and torch.equal(ya % 10, ys)
    assert ya.min() >= 0 and ya.max() <= 18 and (ya >= 10).any()
    assert CLASSES["add"] == 19 and CLASSES["sum"] == 10


def test_clean_background_puts_white_glyphs_at_fixed_places():
    x, y = make_glyph_digits(50, "add", size=32, seed=1, background="clean")
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])  # white ink on black: grey
    assert x[:, :, :8].abs().sum() == 0 and x[:, :, 24:].abs().sum() == 0  # 16×16 glyphs in rows 8..23
    assert (x[:, 0, 8:24, :16].sum((1, 2)) > 0).all() and (x[:, 0, 8:24, 16:].sum((1, 2)) > 0).all()
    with pytest.raises(ValueError, match="background"):
        make_glyph_digits(4, background="noisy")


def test_glyph_pools_are_disjoint_writers():
    tr, _ = _glyph_pool("train", 0)
    te, _ = _glyph_pool("test", 0)
    a = {t.numpy().tobytes() for t in tr}
    assert not any(t.numpy().tobytes() in a for t in te)


def test_glyph_digits_validation():
    with pytest.raises(ValueError, match="task"):
        make_glyph_digits(4, "product")


def test_load_folder_images_and_npz(tmp_path):
    from PIL import Image

    for c in ("cat", "dog"):
        (tmp_path / c).mkdir()
        for i in range(3):
            arr = np.full((10, 12, 3), 40 * i + (100 if c == "dog" else 0), dtype=np.uint8)
            Image.fromarray(arr).save(tmp_path / c / f"{i}.png")
    x, y, names = load_folder(tmp_path)
    assert x.shape == (6, 3, 10, 12) and names == ["cat", "dog"] and y.tolist() == [0, 0, 0, 1, 1, 1]
    assert x[4, 0, 0, 0].item() == pytest.approx(140 / 255)
    x, _, _ = load_folder(tmp_path, size=8, grayscale=True)
    assert x.shape == (6, 1, 8, 8)

    np.savez(tmp_path / "d.npz", images=np.zeros((5, 9, 9, 3), np.uint8), labels=np.array([7, 3, 7, 3, 3]))
    x, y, names = load_folder(tmp_path / "d.npz")
    assert x.shape == (5, 3, 9, 9) and y.tolist() == [1, 0, 1, 0, 0] and names == ["3", "7"]
    with pytest.raises(ReplabError, match="no such"):
        load_folder(tmp_path / "missing")
