"""cpc-data-efficiency's linear probes: the 100%-label probes of the CPC, random-init and pixel features,
and the random encoder's probe at each label fraction (the floor of the claims)."""

from __future__ import annotations

import torch

from replab import seeding
from replab.experiments.ssl._cpc_parts import grid_features, make_encoder
from replab.experiments.ssl._eval import label_subset
from replab.probe import linear_probe


def center(x: torch.Tensor, crop: int) -> torch.Tensor:
    o = (x.shape[-1] - crop) // 2
    return x[..., o : o + crop, o : o + crop]


def random_encoder(cfg, run, chans: int):
    """The untrained encoder of the run (the same weights for the 100% probe and the floor)."""
    torch.manual_seed(seeding.derive_seed(run.seed, "init/random-encoder"))
    return make_encoder(chans, cfg.widths)


def random_probe_floor(cfg, run, data, units: dict) -> list[str]:
    """The floor of the label-fraction claims: a linear probe on the random encoder's grid-pooled features,
    fitted on each unit's own labelled subset (the same images the classifiers saw), added to the units
    that lack it. Cost: one pass of the random encoder over the train and test images and one L-BFGS probe
    per (fraction, label seed) — seconds beside the minutes of classifier training. Returns the names of
    the units it filled."""
    missing = [name for name, u in units.items() if "random_probe" not in u]
    if not missing:
        return []
    enc = random_encoder(cfg, run, data.train_x.shape[1])
    ftr = grid_features(enc, center(data.train_x, cfg.crop), cfg.patch, cfg.stride)
    fte = grid_features(enc, center(data.test_x, cfg.crop), cfg.patch, cfg.stride)
    for name in missing:
        u = units[name]
        f, s = u["fraction"], u["seed"]
        idx = label_subset(data.train_y, f, seeding.rng(run.seed, f"labels/{f}/{s}"))
        u["random_probe"] = linear_probe(ftr[idx], data.train_y[idx], fte, data.test_y)
    return missing


def linear_probes(cfg, run, data, state: dict) -> dict:
    """100%-label linear probes on grid-pooled patch features (CPC raw / EMA / random init) and on pixels."""
    chans = data.train_x.shape[1]
    xtr, xte = center(data.train_x, cfg.crop), center(data.test_x, cfg.crop)
    encoders = {"random": random_encoder(cfg, run, chans)}
    for name, key in (("cpc_raw", "model"), ("cpc_ema", "ema")):
        enc = make_encoder(chans, cfg.widths)
        sd = state["pretrain"][key]
        sd = {
            k.removeprefix("encoder."): v for k, v in sd.items() if key == "ema" or k.startswith("encoder.")
        }
        enc.load_state_dict(sd)
        encoders[name] = enc
    out = {}
    for name, enc in encoders.items():
        ftr = grid_features(enc, xtr, cfg.patch, cfg.stride)
        fte = grid_features(enc, xte, cfg.patch, cfg.stride)
        out[name] = linear_probe(ftr, data.train_y, fte, data.test_y)
    out["pixels"] = linear_probe(xtr, data.train_y, xte, data.test_y)
    return out
