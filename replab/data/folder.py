"""Users' own labelled images: a folder with one sub-folder per class, or a NumPy `.npz` file.

- folder: `root/<class name>/<image>.png|jpg|jpeg|bmp|gif|webp`; classes are the sorted sub-folder names;
  every image is converted to RGB (or L with `grayscale=True`) and resized to `size` (bilinear) when
  given, else all images must share one size.
- `.npz`: arrays `images` (or `x`) of shape (N, H, W), (N, H, W, C) or (N, C, H, W), uint8 or float,
  and `labels` (or `y`) (N,) of any sortable type (mapped to 0..K−1 in sorted order).
Returns images (N, C, H, W) float32 in [0, 1] (uint8 is divided by 255; floats are kept as they are),
labels (N,) int64 and the class names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from replab.errors import ReplabError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def load_folder(
    path: str | Path, size: int | None = None, grayscale: bool = False
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(images (N, C, H, W) float32, labels (N,) int64, class names) from a folder or an `.npz` file."""
    path = Path(path)
    if not path.exists():
        raise ReplabError(f"no such file or folder: {path}")
    if path.is_file():
        if path.suffix != ".npz":
            raise ReplabError(f"{path}: expected a folder of class sub-folders or an .npz file")
        return _load_npz(path, size)
    return _load_image_folder(path, size, grayscale)


def _load_npz(path: Path, size: int | None):
    with np.load(path, allow_pickle=False) as data:
        keys = set(data.files)
        xk = "images" if "images" in keys else "x" if "x" in keys else None
        yk = "labels" if "labels" in keys else "y" if "y" in keys else None
        if xk is None or yk is None:
            raise ReplabError(
                f"{path} must hold arrays 'images' (or 'x') and 'labels' (or 'y'); found {sorted(keys)}"
            )
        x, y = data[xk], data[yk]
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.transpose(0, 3, 1, 2)  # NHWC → NCHW
    if x.ndim != 4:
        raise ReplabError(f"{path}: images must be (N, H, W), (N, H, W, C) or (N, C, H, W), got {x.shape}")
    if y.shape != (x.shape[0],):
        raise ReplabError(f"{path}: labels must be ({x.shape[0]},), got {y.shape}")
    xt = torch.from_numpy(x.astype(np.float32) / (255.0 if x.dtype == np.uint8 else 1.0))
    if size is not None:
        xt = torch.nn.functional.interpolate(xt, size=(size, size), mode="bilinear", align_corners=False)
    classes, yt = np.unique(y, return_inverse=True)
    return xt, torch.from_numpy(yt.astype(np.int64)), [str(c) for c in classes]


def _load_image_folder(root: Path, size: int | None, grayscale: bool):
    from PIL import Image

    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ReplabError(f"{root} has no class sub-folders (expected {root}/<class>/<image>.png)")
    images, labels = [], []
    for ci, name in enumerate(classes):
        files = sorted(f for f in (root / name).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        for f in files:
            with Image.open(f) as im:
                im = im.convert("L" if grayscale else "RGB")
                if size is not None:
                    im = im.resize((size, size), Image.BILINEAR)
                arr = np.asarray(im, dtype=np.uint8)
            images.append(arr[:, :, None] if arr.ndim == 2 else arr)
            labels.append(ci)
    if not images:
        raise ReplabError(f"{root}: no images with suffix {IMAGE_SUFFIXES} in its class sub-folders")
    shapes = {a.shape for a in images}
    if len(shapes) > 1:
        raise ReplabError(
            f"{root}: images have different sizes {sorted(shapes)[:3]}...; pass size=N to resize"
        )
    x = torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    return x, torch.tensor(labels, dtype=torch.int64), classes
