"""A schedule of interventions ("at step T do X", "every F steps do Y") for any training loop or agent.

    schedule = Schedule(on_change=[lambda model: agent.resync_target()])
    schedule.at(60_000, Inject("head")).every(1_000, ReDo(tau=0.1))
    ...
    for step in range(steps):
        ...update...
        schedule.apply(step, qnet, optimizer=opt, batch=lambda: replay.sample(256).obs)

Or from flat config strings (`Schedule.parse(("inject@60000", "redo:tau=0.025@every1000"))`). After any
intervention the `on_change` hooks run once with the model: agents re-sync their target networks there
(Nikishin et al. 2023: the target must mirror the injected structure; seed002 §2.2), e.g. with `mirror`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from replab.intervene.inject import inject_plasticity
from replab.intervene.layernorm import add_layernorm
from replab.intervene.redo import redo
from replab.intervene.reset import reset, shrink_perturb


def mirror(online: nn.Module) -> nn.Module:
    """A frozen deep copy of `online` (a target network with the online network's current structure)."""
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


def sync_target(online: nn.Module, target: nn.Module) -> nn.Module:
    """Copy `online`'s parameters and buffers into `target` in place when both have the same structure;
    raises ValueError otherwise (after an injection, replace the target with `mirror(online)`)."""
    a, b = online.state_dict(), target.state_dict()
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise ValueError("target and online networks differ in structure; use target = mirror(online)")
    target.load_state_dict(a)
    return target


@dataclass
class Inject:
    """`inject_plasticity(model, head, grow=...)`."""

    head: str = "head"
    grow: float = 1.0
    reset_optimizer_state: bool = False
    name = "inject"

    def __call__(self, model, *, optimizer, batch, generator, init=None) -> dict:
        inject_plasticity(
            model,
            self.head,
            grow=self.grow,
            optimizer=optimizer,
            reset_optimizer_state=self.reset_optimizer_state,
            generator=generator,
            init=init,
        )
        return {}


@dataclass
class Reset:
    """`reset(model.<module>)`; module "" resets the whole model."""

    module: str = "head"
    reset_optimizer_state: bool = True
    name = "reset"

    def __call__(self, model, *, optimizer, batch, generator, init=None) -> dict:
        target = model.get_submodule(self.module)
        reset(
            target,
            optimizer=optimizer,
            reset_optimizer_state=self.reset_optimizer_state,
            generator=generator,
            init=init,
        )
        return {}


@dataclass
class ShrinkPerturb:
    """`shrink_perturb(model, shrink, noise)` (defaults 0.8 / 0.01 [P], the values common in plasticity code)."""

    shrink: float = 0.8
    noise: float = 0.01
    noise_source: str = "init"
    reset_optimizer_state: bool = False
    name = "shrink_perturb"

    def __call__(self, model, *, optimizer, batch, generator, init=None) -> dict:
        shrink_perturb(
            model,
            self.shrink,
            self.noise,
            noise_source=self.noise_source,
            optimizer=optimizer,
            reset_optimizer_state=self.reset_optimizer_state,
            generator=generator,
            init=init,
        )
        return {}


@dataclass
class ReDo:
    """`redo(model, batch, tau)`: needs the schedule's `batch` (inputs to score the units on)."""

    tau: float = 0.1
    reset_optimizer_state: bool = True
    name = "redo"

    def __call__(self, model, *, optimizer, batch, generator, init=None) -> dict:
        if batch is None:
            raise ValueError("the redo action needs a batch of inputs: schedule.apply(..., batch=x)")
        counts = redo(
            model,
            batch,
            self.tau,
            optimizer=optimizer,
            reset_optimizer_state=self.reset_optimizer_state,
            generator=generator,
            init=init,
        )
        return {"recycled": sum(counts.values())}


@dataclass
class LayerNorm:
    """`add_layernorm(model, inplace=True)`: a normalisation before every hidden activation (Lyle et al.
    2023). The model gains parameters: the optimiser must be rebuilt (the agent protocol does it)."""

    eps: float = 1e-5
    name = "layernorm"

    def __call__(self, model, *, optimizer, batch, generator, init=None) -> dict:
        add_layernorm(model, inplace=True, eps=self.eps)
        return {}


ACTIONS = {
    "inject": Inject,
    "reset": Reset,
    "shrink_perturb": ShrinkPerturb,
    "redo": ReDo,
    "layernorm": LayerNorm,
}
_SPEC = re.compile(r"^(?P<name>\w+)(?::(?P<args>[^@]*))?@(?:(?P<at>\d+)|every(?P<every>\d+))$")


@dataclass
class Event:
    action: Callable
    at: int | None = None
    every: int | None = None


@dataclass
class Schedule:
    """Interventions due at given steps; `apply` runs them and then the `on_change` hooks."""

    events: list[Event] = field(default_factory=list)
    on_change: list[Callable[[nn.Module], None]] = field(default_factory=list)
    generator: torch.Generator | None = None

    def at(self, step: int, action: Callable) -> Schedule:
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        self.events.append(Event(action, at=step))
        return self

    def every(self, period: int, action: Callable) -> Schedule:
        """Run `action` at steps period, 2·period, ... (never at step 0)."""
        if period < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        self.events.append(Event(action, every=period))
        return self

    def due(self, step: int) -> list[Callable]:
        return [
            e.action
            for e in self.events
            if e.at == step or (e.every is not None and step > 0 and step % e.every == 0)
        ]

    def apply(self, step: int, model: nn.Module, *, optimizer=None, batch=None) -> list[dict]:
        """Run the actions due at `step` on `model` (in order of scheduling), then each hook once.

        `batch` is the inputs ReDo scores units on, or a callable returning them (called only when
        needed). Any callable `action(model, *, optimizer, batch, generator) -> dict` can be scheduled;
        one with `modifies = False` (a measurement) does not trigger the hooks. Returns one record per action: {"step", "action", ...the action's numbers}."""
        actions = self.due(step)
        records = []
        for action in actions:
            x = batch() if callable(batch) and getattr(action, "name", "") == "redo" else batch
            info = action(model, optimizer=optimizer, batch=x, generator=self.generator)
            records.append({"step": step, "action": getattr(action, "name", repr(action)), **(info or {})})
        if any(getattr(a, "modifies", True) for a in actions):
            for hook in self.on_change:
                hook(model)
        return records

    @classmethod
    def parse(cls, specs: Sequence[str], **kwargs) -> Schedule:
        """Build from strings `name[:key=value,...]@T` (once at step T) or `...@everyF` (every F steps),
        with name in inject, reset, shrink_perturb, redo, layernorm — e.g. `inject:grow=2@60000`."""
        schedule = cls(**kwargs)
        for spec in specs:
            m = _SPEC.match(spec.replace(" ", ""))
            if not m or m.group("name") not in ACTIONS:
                raise ValueError(
                    f"bad intervention {spec!r}: write name[:key=value,...]@STEP or ...@everyN with name "
                    f"in {sorted(ACTIONS)}"
                )
            kw = dict(_kv(item) for item in (m.group("args") or "").split(",") if item)
            try:
                action = ACTIONS[m.group("name")](**kw)
            except TypeError as exc:
                raise ValueError(f"bad arguments in intervention {spec!r}: {exc}") from None
            if m.group("at") is not None:
                schedule.at(int(m.group("at")), action)
            else:
                schedule.every(int(m.group("every")), action)
        return schedule


def _kv(item: str) -> tuple[str, object]:
    key, sep, value = item.partition("=")
    if not sep:
        raise ValueError(f"intervention argument {item!r} must be key=value")
    if value.lower() in ("true", "false"):
        return key, value.lower() == "true"
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    return key, value
