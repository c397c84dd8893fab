"""The tunnel effect (Masarczyk et al., NeurIPS 2023; arXiv 2305.19753; seed002 §1).

Train deep plain classifiers, then probe every layer: linear-probe accuracy rises over the first layers
(the extractor) and plateaus, while the numerical rank of the representations falls (the tunnel).
Models are named `<arch><depth>-<dataset>`: arch `mlp` or `vgg`, dataset `digits` (scikit-learn's
8×8 digits, 10 classes), `digitsK` (the first K digit classes) or `glyphsK` (procedural glyphs with K
classes). Checks compare models that differ only in depth, or only in the number of classes.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from replab import seeding
from replab.data.digits import load_digits
from replab.data.glyphs import load_glyphs
from replab.data.split import Split
from replab.experiments import Experiment
from replab.experiments.tunnel._report import report
from replab.nn.deep import DeepCNN, DeepMLP, layer_names
from replab.probe import LayerProbe
from replab.probe.health import HealthConfig, health_monitor
from replab.probe.rank import numerical_rank

_MODEL = re.compile(r"^(mlp|vgg)(\d+)-(digits|glyphs)(\d*)$")


@dataclass
class Config(HealthConfig):
    probe_every: int = 2
    """Epochs between two measurements of the health monitor (each model's last hidden layer on the first
    `probe_batch` training examples): 20 over DEFAULT's 40 epochs."""
    models: tuple[str, ...] = (
        "mlp12-digits",
        "vgg12-glyphs16",
        "mlp6-glyphs16",
        "mlp12-glyphs16",
        "mlp18-glyphs16",
        "mlp12-glyphs4",
        "mlp12-glyphs32",
    )
    """Models to train and probe, as `<mlp|vgg><depth>-<digits|digitsK|glyphsK>`."""
    mlp_width: int = 128
    """Hidden width of the MLPs (seed002 §1.6 uses 256)."""
    vgg_width: int = 16
    """Channels of every conv layer of the VGG-style nets."""
    vgg_size: int = 16
    """Input side for the VGG-style nets (digits are upsampled from 8; glyphs are drawn at this size)."""
    epochs: int = 40
    """Training epochs per model (Adam, cross-entropy)."""
    batch_size: int = 64
    lr: float = 1e-3
    probe_epochs: tuple[int, ...] = (1, 3)
    """Epochs after which every layer is also probed, to see when the tunnel forms (the end is always probed)."""
    probe_method: str = "lbfgs"
    """`lbfgs` (full-batch logistic regression, deterministic) or `sgd` (the paper code's Adam probes, best
    test accuracy over 30 epochs)."""
    rank_tol: float = 1e-3
    """ε of the numerical rank: eigenvalues of the feature covariance above ε·λ_max count (paper: 1e-3)."""
    max_features: int = 8000
    """Features kept (a fixed random subset) before the covariance, as in the paper's code."""
    glyphs_per_class: int = 200
    """Images per glyph class (70% train, 30% test)."""
    saturation_tol: float = 0.02
    """The extractor ends at the first layer whose probe accuracy is within this (absolute accuracy) of the
    best layer's. The `saturation` claim: the probe accuracy reached within the first two thirds of the
    layers is within this of the best layer's (mean over seeds and models). 0.02 is the tolerance this
    experiment used before the shared rules (registered 2026-12-05 before any run of this rule)."""
    rank_fall: float = 0.5
    """The `compression` and `early` claims: the last layer's normalised rank (rank / min(n_test − 1, dim,
    max_features), the spec's normalisation, seed002 §1.6) is at most this fraction of the peak normalised
    rank over layers (mean over seeds and models; the minimum effect is 1 − rank_fall below "no fall" = 1).
    ½ is the threshold this experiment used before the shared rules, a "steep" fall in the source's words
    (registered 2026-12-05 before any run of this rule)."""
    rank_classes_factor: float = 2.0
    """The `rank_classes` claim: the last layer's numerical rank is within this factor of the number of
    classes K (mean of log2(rank / K) below log2 of it). The source says the rank falls "to about the
    number of classes" (≈ 10 for CIFAR-10, seed002 §1.4); a factor of 2 is a generous reading of "about".
    Models whose last layer cannot hold this factor × K (capacity below it) are left out: there the claim
    would follow from the shapes (registered 2026-12-05 before any run of this rule)."""
    min_length_effect: float = 0.1
    """The `depth` and `classes` claims, in fractions of the network's layers: the deepest model of a depth
    series has a tunnel (layers after the extractor) that is a larger fraction of its depth than the
    shallowest's, by at least this; and the model with fewest classes a larger fraction than the one with
    most. A fraction, not a count, since the count (depth − extractor) grows with depth by definition;
    an extractor whose length scales with depth gives 0. 0.1 is one tenth of the network: about two
    layers at depth 18, more than one layer's step (1/D) at every DEFAULT depth (registered 2026-12-05
    before any run of this rule)."""

    def __post_init__(self):
        super().__post_init__()
        self.models = tuple(self.models)
        self.probe_epochs = tuple(self.probe_epochs)
        for m in self.models:
            parse_model(m)
        for name in ("mlp_width", "vgg_width", "epochs", "batch_size", "glyphs_per_class"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.vgg_size < 8:
            raise ValueError(f"vgg_size must be >= 8, got {self.vgg_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.probe_method not in ("lbfgs", "sgd"):
            raise ValueError(f"probe_method must be lbfgs or sgd, got {self.probe_method!r}")
        for name in ("rank_tol", "saturation_tol", "rank_fall", "min_length_effect"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be in (0, 1), got {getattr(self, name)}")
        if not self.rank_classes_factor >= 1:
            raise ValueError(f"rank_classes_factor must be >= 1, got {self.rank_classes_factor}")
        bad = [e for e in self.probe_epochs if not 1 <= e <= self.epochs]
        if bad:
            raise ValueError(f"probe_epochs must be within [1, epochs={self.epochs}], got {bad}")


def parse_model(spec: str) -> tuple[str, int, str, int | None]:
    """'mlp12-glyphs32' → ('mlp', 12, 'glyphs', 32)."""
    m = _MODEL.match(spec)
    if not m:
        raise ValueError(f"model '{spec}' must look like mlp12-digits, vgg16-digits5 or mlp12-glyphs32")
    arch, depth, data, k = m.group(1), int(m.group(2)), m.group(3), m.group(4)
    classes = int(k) if k else None
    if depth < 2 or (classes is not None and (classes < 2 or (data == "digits" and classes > 10))):
        raise ValueError(
            f"model '{spec}': depth must be >= 2 and classes in [2, 10] for digits, >= 2 for glyphs"
        )
    return arch, depth, data, classes


SMOKE = Config(
    models=("mlp4-digits", "vgg3-digits5", "mlp3-glyphs4"),
    mlp_width=32,
    vgg_width=4,
    vgg_size=8,
    epochs=2,
    probe_epochs=(1,),
    glyphs_per_class=20,
    probe_every=1,
)
# `make demo`: the tunnel and its growth with depth on scikit-learn's digits — three MLPs, 20 epochs, probed
# after the first and the last (about half a CPU-minute on an idle 2-core machine, see the README); the
# class-count and VGG comparisons are left to DEFAULT.
DEMO = Config(models=("mlp6-digits", "mlp12-digits", "mlp18-digits"), epochs=20, probe_epochs=(1,))
DEFAULT = Config()
PAPER = Config(
    models=(
        "mlp16-digits",
        "vgg16-digits",
        "vgg16-glyphs16",
        "vgg8-glyphs16",
        "mlp8-glyphs16",
        "mlp16-glyphs16",
        "mlp16-glyphs4",
        "mlp16-glyphs32",
    ),
    mlp_width=256,
    vgg_width=64,
    epochs=100,
    probe_epochs=(1, 2, 5, 10),
    probe_method="sgd",
)


def load_data(data: str, classes: int | None, arch: str, cfg: Config, seed: int) -> Split:
    size = cfg.vgg_size if arch == "vgg" else 8
    if data == "digits":
        split = load_digits(size=size, seed=seed)
        return split.subset(range(classes)) if classes else split
    return load_glyphs(
        classes=classes or 20, per_class=cfg.glyphs_per_class, size=size if arch == "vgg" else 16, seed=seed
    )


def build_model(arch: str, depth: int, split: Split, cfg: Config, device: str):
    shape = split.train_x.shape[1:]
    if arch == "mlp":
        return DeepMLP(shape.numel(), split.classes, depth=depth, width=cfg.mlp_width).to(device)
    return DeepCNN(shape[0], split.classes, depth=depth, width=cfg.vgg_width).to(device)


def probe_layers(model, split: Split, cfg: Config, seed: int, name: str) -> list[dict]:
    probe = LayerProbe(model, layer_names(model.depth))
    return probe.report(
        split.train_x,
        split.train_y,
        split.test_x,
        split.test_y,
        tol=cfg.rank_tol,
        probe_method=cfg.probe_method,
        max_features=cfg.max_features,
        generator=seeding.generator(seed, f"probe/{name}"),
    )


def init_ranks(model, split: Split, cfg: Config, seed: int, name: str) -> list[dict]:
    """Per layer: dim and numerical rank of the untrained model's test features, the depth-matched
    control of the rank claims. A copy of the model gets BatchNorm statistics of the training inputs
    (one pass, cumulative averages, no gradient), as the trained model's running statistics are, so the
    only difference from the trained model is training; the model itself is not touched. Its own
    generator, so the trained model's probes draw the same feature subsets as without the control."""
    control = copy.deepcopy(model)
    for m in control.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the pass
    control.train()
    with torch.no_grad():
        for i in range(0, split.train_x.shape[0], 512):
            control(split.train_x[i : i + 512])
    feats = LayerProbe(control, layer_names(model.depth)).features(split.test_x)
    gen = seeding.generator(seed, f"probe-init/{name}")
    return [
        {
            "layer": layer,
            "dim": int(f.shape[1]),
            "numerical_rank": numerical_rank(f, cfg.rank_tol, cfg.max_features, gen),
        }
        for layer, f in feats.items()
    ]


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"done": {}, "current": None}
    total = len(cfg.models) * cfg.epochs
    completed = len(state["done"]) * cfg.epochs + (state["current"]["epoch"] if state["current"] else 0)
    with run.progress(total, "tunnel", completed=completed) as bar:
        for name in cfg.models:
            if name in state["done"]:
                continue
            state["done"][name] = train_and_probe(name, cfg, run, state, bar)
            state["current"] = None
            run.save_checkpoint(state)
    return {
        "config": {
            "saturation_tol": cfg.saturation_tol,
            "rank_fall": cfg.rank_fall,
            "rank_classes_factor": cfg.rank_classes_factor,
            "min_length_effect": cfg.min_length_effect,
            "rank_tol": cfg.rank_tol,
            "max_features": cfg.max_features,
            "epochs": cfg.epochs,
        },
        "models": state["done"],
    }


def train_and_probe(name: str, cfg: Config, run, state: dict, bar) -> dict:
    arch, depth, data, classes = parse_model(name)
    split = load_data(data, classes, arch, cfg, run.seed)
    dev = run.device
    split = Split(*(t.to(dev) for t in (split.train_x, split.train_y, split.test_x, split.test_y)))
    torch.manual_seed(seeding.derive_seed(run.seed, f"init/{name}"))
    model = build_model(arch, depth, split, cfg, dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = run.generator(f"data/{name}")
    cur = state["current"]
    if cur and cur["name"] == name:
        model.load_state_dict(cur["model"])
        opt.load_state_dict(cur["opt"])
        gen.set_state(cur["gen"])
        start, probes, test_acc = cur["epoch"], cur["probes"], cur["test_acc"]
        init = cur.get("init")  # None: a checkpoint from before the control was measured
    else:
        start, probes, test_acc = 0, {}, float("nan")
        init = init_ranks(model, split, cfg, run.seed, name)
        run.log({f"probe/{name}/init_rank/{r['layer']}": r["numerical_rank"] for r in init}, 0)
    # representation health of the last hidden layer every `probe_every` epochs (`probe/<probe>/<name>/
    # layerDD`, step = epoch), on the first training examples; it draws nothing from `gen` or the global RNG.
    # Not at initialisation: in eval mode BatchNorm's unset running statistics make that point meaningless.
    monitor = health_monitor(cfg, model, split.train_x, run.log, arm=name, layers=[f"layer{depth:02d}"])
    n = split.train_x.shape[0]
    steps_per_epoch = -(-n // cfg.batch_size)
    for epoch in range(start + 1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen).to(dev)
        total_loss = 0.0
        for i in range(0, n, cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            loss = F.cross_entropy(model(split.train_x[idx]), split.train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_loss += float(loss.detach()) * idx.numel()
        step = epoch * steps_per_epoch
        model.eval()
        with torch.no_grad():
            test_acc = float((model(split.test_x).argmax(1) == split.test_y).float().mean())
        run.log(
            {
                f"train/{name}/loss": total_loss / n,
                f"eval/{name}/test_acc": test_acc,
                f"train/{name}/epoch": epoch,
            },
            step,
        )
        if epoch in cfg.probe_epochs or epoch == cfg.epochs:
            rows = probe_layers(model, split, cfg, run.seed, name)
            probes[str(epoch)] = rows
            for r in rows:
                run.log(
                    {
                        f"probe/{name}/acc/{r['layer']}": r["probe_acc"],
                        f"probe/{name}/rank/{r['layer']}": r["numerical_rank"],
                        f"probe/{name}/srank/{r['layer']}": r["srank"],
                    },
                    step,
                )
        monitor.step(epoch)
        bar.advance(1, model=name, loss=total_loss / n, test_acc=test_acc)
        state["current"] = {
            "name": name,
            "epoch": epoch,
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "gen": gen.get_state(),
            "probes": probes,
            "test_acc": test_acc,
            "init": init,
        }
        run.save_checkpoint(state)
    return {
        "arch": arch,
        "depth": depth,
        "data": data,
        "classes": split.classes,
        "test_acc": test_acc,
        "n_test": int(split.test_x.shape[0]),
        "probes": probes,
        "init": init,
    }


EXPERIMENT = Experiment(
    name="tunnel",
    headline="later layers compress: rank falls, probes stall",
    claim=(
        "Early layers build linearly separable representations; later layers (the tunnel) compress them "
        "— numerical rank falls towards the number of classes — and add little linear-probe accuracy; "
        "the tunnel forms early in training and is longer for deeper networks and for simpler tasks."
    ),
    source="Masarczyk et al. 2023, The Tunnel Effect (arXiv 2305.19753), Fig. 1 and §3–4",
    check=(
        "Headline claims decided by the shared rule across seeds (the ledger pools one-seed runs), units "
        "(seed, model): the last layer's normalised rank (rank / min(n − 1, dim)) at most `rank_fall` (½) "
        "of the peak over layers, below the same architecture at initialisation (compression; and at the "
        "earliest probed epoch: early); probe accuracy within `saturation_tol` (2 points) of the best layer "
        "before the last third of the layers, above chance (saturation); last-layer rank within "
        "`rank_classes_factor` (2×) of the number of classes (rank_classes); the tunnel's fraction of the "
        "layers larger by `min_length_effect` (0.1) for the deepest than the shallowest model of a depth "
        "series (depth) and for the fewest than the most classes (classes)."
    ),
    config=Config,
    presets={"smoke": SMOKE, "demo": DEMO, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
