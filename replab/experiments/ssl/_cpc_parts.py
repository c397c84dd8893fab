"""Pieces of the CPC data-efficiency experiment: data, encoder, classifier head, CPC pretraining step.

Geometry (seed001 §1.7, mirroring 300 → 260 crop → 6×6 grid of 80-px patches at stride 36): 32×32 images,
a random 28×28 crop (centre crop at test), 8×8 patches at stride 4 → a 6×6 grid; predicting 3 rows ahead,
the target patch shares no pixel with the context (`patch_overlap` = 0).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from replab.data.digits import load_digits
from replab.data.folder import load_folder
from replab.data.glyph_digits import load_glyph_digits
from replab.data.split import Split, stratified_split
from replab.nn.cpc import CPCHead, patchify
from replab.nn.resnet import BasicBlock, ResNet


def load_data(dataset: str, n_train: int, n_test: int, image_size: int, seed: int) -> Split:
    """`glyph-digits` (procedural, RGB), `digits` (scikit-learn, grey, upsampled), or a path to a folder of
    class sub-folders / an .npz file (users' own images, resized to image_size, 30% held out for test).
    Images are in [0, 1]."""
    if dataset == "glyph-digits":
        return load_glyph_digits(n_train, n_test, "digit", image_size, seed)
    if dataset == "digits":
        s = load_digits(size=image_size, test_fraction=0.2, seed=seed)
        lo, hi = min(s.train_x.min(), s.test_x.min()), max(s.train_x.max(), s.test_x.max())
        return Split((s.train_x - lo) / (hi - lo), s.train_y, (s.test_x - lo) / (hi - lo), s.test_y)
    import numpy as np

    x, y, _ = load_folder(dataset, size=image_size)
    tr, te = stratified_split(x.numpy(), y.numpy(), 0.3, np.random.default_rng(seed))
    return Split(x[tr], y[tr], x[te], y[te])


def make_encoder(in_channels: int, widths: tuple[int, ...]) -> ResNet:
    """seed001 §1.7's patch encoder: 3×3 conv stride 2 → one residual block per width (the first block of
    a wider stage projects) → mean pool; per-sample layer norm (GroupNorm(1, C)) throughout, never batch
    norm (CPC v2 §2.4: batch statistics let patches see each other). (B, C, p, p) → (B, widths[-1])."""
    return ResNet(
        layers=(1,) * len(widths),
        widths=widths,
        block="basic",
        in_channels=in_channels,
        num_classes=0,
        stem="cifar",
        stem_channels=widths[0],
        stem_stride=2,
        strides=(1,) * len(widths),
        norm="layer",
    )


class Classifier(nn.Module):
    """The classifier on an encoder's feature map (CPC v2 §2.8's efficient-classification head, small):
    encoder.forward_features (B, D, 14, 14) → two basic residual blocks (the first stride 2, batch norm)
    → mean pool → dropout → linear. `freeze_encoder` runs the encoder without gradients."""

    def __init__(self, encoder: ResNet, classes: int, width: int = 128, dropout: float = 0.2):
        super().__init__()
        self.encoder, self.freeze_encoder = encoder, False
        d = encoder.out_channels
        self.head = nn.Sequential(BasicBlock(d, width, width, 2), BasicBlock(width, width, width))
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        if self.freeze_encoder:
            with torch.no_grad():
                was = self.encoder.training
                f = self.encoder.eval().forward_features(x)
                self.encoder.train(was)
        else:
            f = self.encoder.forward_features(x)
        return self.fc(self.drop(self.head(f).mean((2, 3))))


class CPCModel(nn.Module):
    """Encoder f_θ applied to every patch + CPCHead (g_φ, W_k, target projection)."""

    def __init__(self, in_channels: int, widths: tuple[int, ...], patch: int, stride: int, **head_kw):
        super().__init__()
        self.patch, self.stride = patch, stride
        self.encoder = make_encoder(in_channels, widths)
        self.head = CPCHead(widths[-1], patch=patch, stride=stride, **head_kw)

    def latents(self, crops: Tensor, patch_fn=None) -> Tensor:
        """Crops (B, C, S, S) → latent grid (B, D, Gh, Gw); `patch_fn` augments the (B·Gh·Gw, C, p, p)
        patches, each independently (CPC v2 §2.6)."""
        b, c = crops.shape[:2]
        p = patchify(crops, self.patch, self.stride)  # (B, Gh, Gw, C, p, p)
        gh, gw = p.shape[1:3]
        flat = p.reshape(-1, c, self.patch, self.patch)
        if patch_fn is not None:
            flat = patch_fn(flat)
        z = self.encoder(flat)
        return z.reshape(b, gh, gw, -1).permute(0, 3, 1, 2)

    def forward(self, crops: Tensor, patch_fn=None) -> tuple[Tensor, dict[str, float]]:
        return self.head(self.latents(crops, patch_fn))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """Polyak averaging of parameters and buffers (CPC v2 §2.6: decay 0.9999; 0.999 at reduced scale)."""
    for pe, pm in zip(ema.state_dict().values(), model.state_dict().values()):
        if pe.dtype.is_floating_point:
            pe.mul_(decay).add_(pm, alpha=1 - decay)
        else:
            pe.copy_(pm)


def clone(module: nn.Module) -> nn.Module:
    return copy.deepcopy(module)


class GridEncoder(nn.Module):
    """Images (N, C, S, S) → the mean over the patch grid of the encoder's per-patch features (N, D): the
    representation the health monitor watches (as `grid_features`, with gradients possible)."""

    def __init__(self, encoder: ResNet, patch: int, stride: int):
        super().__init__()
        self.encoder, self.patch, self.stride = encoder, patch, stride

    def forward(self, images: Tensor) -> Tensor:
        p = patchify(images, self.patch, self.stride)
        b, gh, gw, c = p.shape[:4]
        return self.encoder(p.reshape(-1, c, self.patch, self.patch)).reshape(b, gh * gw, -1).mean(1)


def grid_features(encoder: ResNet, images: Tensor, patch: int, stride: int, batch: int = 128) -> Tensor:
    """Mean over the patch grid of the per-patch features (N, D): the linear-evaluation input of CPC v2 §2.7
    (a 1×1 conv on each cell then mean-pooled logits equals a linear map of mean-pooled features)."""
    out = []
    was = encoder.training
    encoder.eval()
    with torch.no_grad():
        for i in range(0, images.shape[0], batch):
            x = images[i : i + batch]
            p = patchify(x, patch, stride)
            b, gh, gw, c = p.shape[:4]
            z = encoder(p.reshape(-1, c, patch, patch)).reshape(b, gh * gw, -1)
            out.append(z.mean(1))
    encoder.train(was)
    return torch.cat(out)
