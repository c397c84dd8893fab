"""Chaining augmentations: `Compose`, RAD's command-line spelling `from_spec("crop-rotate-flip")`, and
`Augment`, an `nn.Module` an agent can hold (random in training mode, the deterministic view in eval mode).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..errors import close_matches
from .color import color_jitter, random_grayscale
from .conv import random_conv
from .crop import center_crop, center_translate, random_crop, random_shift, random_translate, random_window
from .cutout import random_cutout, random_cutout_color
from .geometric import random_flip, random_rotate


def no_aug(x: Tensor, *, generator=None, frames: int = 1, return_params: bool = False, params=None):
    """The identity (RAD's `no_aug`); returns `x` itself."""
    return (x, {}) if return_params else x


@dataclass(frozen=True)
class _Entry:
    fn: Callable
    defaults: dict = field(default_factory=dict)
    eval_fn: Callable | None = None  # deterministic view used in eval mode, called with the same size
    early: bool = False  # RAD applies these on the uint8 batch, before the others (seed001 §3.2 [R])


# RAD's names (curl_sac.py `aug_to_func`) and sizes for DMControl (render 100: crop 84, canvas 108), plus
# replab's `window` (RAD §4.4 no. 3) and `shift` (DrQ).
REGISTRY: dict[str, _Entry] = {
    "crop": _Entry(random_crop, {"size": 84}, center_crop, early=True),
    "translate": _Entry(random_translate, {"size": 108}, center_translate, early=True),
    "window": _Entry(random_window, {"size": 84}, early=True),
    "shift": _Entry(random_shift, {"pad": 4}, early=True),
    "cutout": _Entry(random_cutout, early=True),
    "cutout_color": _Entry(random_cutout_color, early=True),
    "grayscale": _Entry(random_grayscale),
    "flip": _Entry(random_flip),
    "rotate": _Entry(random_rotate),
    "rand_conv": _Entry(random_conv),
    "color_jitter": _Entry(color_jitter),
    "no_aug": _Entry(no_aug),
}


class Compose:
    """Apply augmentations in order; each is called as `op(x, generator=, frames=, return_params=True)`.

    `eval_ops` (called as `op(x, frames=)`) give the deterministic evaluation view (`eval_view`), e.g. the
    centre crop for a random crop. `names` label the ops in `repr` and in `from_spec`.
    """

    def __init__(self, ops: Sequence[Callable], *, eval_ops: Sequence[Callable] = (), names=None):
        self.ops = list(ops)
        self.eval_ops = list(eval_ops)
        self.names = list(names) if names is not None else [getattr(op, "__name__", repr(op)) for op in ops]

    def __call__(
        self,
        x: Tensor,
        *,
        generator: torch.Generator | None,
        frames: int = 1,
        return_params: bool = False,
        params: list | None = None,
    ):
        """(B, C·T, H, W) -> augmented batch; with `return_params`, also the list of each op's params.

        Passing that list back as `params=` replays the same draws on another batch (e.g. next_obs).
        """
        if params is not None and len(params) != len(self.ops):
            raise ValueError(f"params has {len(params)} entries, expected one per op ({len(self.ops)})")
        drawn = []
        for i, op in enumerate(self.ops):
            extra = {} if params is None else {"params": params[i]}
            x, p = op(x, generator=generator, frames=frames, return_params=True, **extra)
            drawn.append(p)
        return (x, drawn) if return_params else x

    def eval_view(self, x: Tensor, *, frames: int = 1) -> Tensor:
        """The deterministic view (centre crop, centred canvas); `x` itself when there is none."""
        for op in self.eval_ops:
            x = op(x, frames=frames)
        return x

    def __repr__(self) -> str:
        return f"Compose({'-'.join(self.names)})"


def _split_override(key: str) -> tuple[str, str]:
    for name in sorted(REGISTRY, key=len, reverse=True):  # cutout_color before cutout
        if key.startswith(name + "_"):
            return name, key[len(name) + 1 :]
    raise ValueError(
        f"unknown option {key!r}: options are spelled <augmentation>_<argument> (e.g. crop_size=84, "
        f"flip_p=0.2) with an augmentation from {sorted(REGISTRY)}"
    )


def parse_spec(spec: str) -> tuple[list[str], dict]:
    """Names and options of a spec: "crop-flip" → (["crop", "flip"], {}); arguments may be written inline
    after a colon, "shift:pad=1" or "crop:size=32-flip:p=0.2" → options {"shift_pad": 1} etc."""
    names, options = [], {}
    for item in (i for i in spec.strip().split("-") if i):
        name, _, args = item.partition(":")
        names.append(name)
        for arg in (a for a in args.split(",") if a):
            key, eq, value = arg.partition("=")
            if not eq:
                raise ValueError(
                    f"augmentation argument {arg!r} in {spec!r} must be key=value, e.g. shift:pad=4"
                )
            options[f"{name}_{key}"] = _number(value)
    return names, options


def _number(value: str):
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def from_spec(spec: str, *, rad_order: bool = True, **options) -> Compose:
    """A `Compose` from RAD's spelling: names joined by '-', e.g. "crop-rotate-flip" or "translate".

    Names: crop, translate, window, shift, cutout, cutout_color, grayscale, flip, rotate, rand_conv,
    color_jitter, no_aug. Arguments inline (`"shift:pad=1"`, `"crop:size=32-flip:p=0.2"`) or as
    `<name>_<argument>=value`: `crop_size=84`, `translate_size=108`, `flip_p=0.2`, `cutout_min_cut=10`.
    With `rad_order` (the default, as RAD's `sample_rad`) the crop, translate, window, shift and cutout
    family run first, in spec order, then the rest in spec order.
    """
    names, inline = parse_spec(spec)
    options = {**inline, **options}
    if not names:
        raise ValueError(f"empty augmentation spec {spec!r}; known names: {', '.join(REGISTRY)}")
    for name in names:
        if name not in REGISTRY:
            raise ValueError(
                f"unknown augmentation {name!r} in {spec!r}{close_matches(name, REGISTRY)}; "
                f"known names: {', '.join(REGISTRY)}"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"augmentation spec {spec!r} names an augmentation twice")
    kwargs = {name: dict(REGISTRY[name].defaults) for name in names}
    for key, value in options.items():
        name, arg = _split_override(key)
        if name not in kwargs:
            raise ValueError(f"option {key!r} is for {name!r}, which is not in the spec {spec!r}")
        accepted = [
            p.name
            for p in inspect.signature(REGISTRY[name].fn).parameters.values()
            if p.name not in ("x", "generator", "frames", "return_params", "params")
        ]
        if arg not in accepted:
            raise ValueError(f"option {key!r}: {name} takes {accepted}, not {arg!r}")
        kwargs[name][arg] = value
    if rad_order:
        names = [n for n in names if REGISTRY[n].early] + [n for n in names if not REGISTRY[n].early]
    ops = [functools.partial(REGISTRY[n].fn, **kwargs[n]) for n in names]
    eval_ops = [
        functools.partial(REGISTRY[n].eval_fn, size=kwargs[n]["size"]) for n in names if REGISTRY[n].eval_fn
    ]
    return Compose(ops, eval_ops=eval_ops, names=names)


class Augment(nn.Module):
    """An augmentation an agent can hold: random draws in training mode, the deterministic view in eval mode.

    `Augment("crop", frames=3, crop_size=84, generator=run.generator("augment"))`; without a generator, a
    CPU generator seeded with `seed`. The generator's state is saved in `state_dict()` (extra state), so a
    resumed run draws the same augmentations. Input (B, C·T, H, W).
    """

    def __init__(
        self,
        spec: str | Compose = "crop",
        *,
        frames: int = 1,
        generator: torch.Generator | None = None,
        seed: int = 0,
        **options,
    ):
        super().__init__()
        if not isinstance(frames, int) or frames < 1:
            raise ValueError(f"frames must be an integer >= 1, got {frames!r}")
        if isinstance(spec, Compose):
            if options:
                raise ValueError(f"options {sorted(options)} need a spec string, not a Compose")
            self.compose = spec
        else:
            self.compose = from_spec(spec, **options)
        self.frames = frames
        self.generator = generator if generator is not None else torch.Generator().manual_seed(seed)

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            return self.compose(x, generator=self.generator, frames=self.frames)
        return self.compose.eval_view(x, frames=self.frames)

    def get_extra_state(self):
        return {"generator": self.generator.get_state()}

    def set_extra_state(self, state) -> None:
        self.generator.set_state(state["generator"])

    def extra_repr(self) -> str:
        return f"{'-'.join(self.compose.names)}, frames={self.frames}"
