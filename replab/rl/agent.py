"""The agent protocol (DESIGN §2 'Agents'): what every agent exposes, so that interventions, schedules, the
training loop and the `Monitor` work on any agent without glue code.

An agent (SAC, Rainbow/DQN, and the agents the later families add) implements

    act(obs, *, explore) -> action
    update(batch, step) -> dict[str, float]       flat metrics, no logging inside
    aux: list[(objective, coef)]                  auxiliary objectives: `loss(batch, *, features=None) ->
                                                  (Tensor, metrics)`, `parameters()`, optionally
                                                  `shadows()` (their key networks) and `update_key_encoder()`
    add_aux(objective, coef)                      attach one more, its parameters joining the optimisers
    networks() -> {name: nn.Module}               the online networks an intervention may change
    parts() -> {role: [path, ...]}                named roles ("encoder", "head") as dotted paths from the
                                                  agent, e.g. "critic.q1"; an intervention's module is a role
                                                  or such a path
    shadows() -> [Shadow]                         every target network and key encoder, with its update rule
    optimizers() -> {name: Optimizer}
    owned_parameters() -> {name: [Parameter]}     what each optimiser must step, from the current modules
    initializer: Callable[[nn.Module], None] | None   the agent's own initialiser (None: PyTorch's default)
    trace(batch)                                  every online network's forward on a batch, as in an update
                                                  (ReDo scores units and finds their consumers with it)
    view(obs) -> Tensor                           the networks' input for raw observations, deterministic
                                                  (SAC: the centre crop of its augmentation)
    on_change()                                   rebuild what the agent caches about its modules

`intervene(agent, action)` runs one intervention through the protocol, then re-syncs every shadow whose
online network changed (a copy; a new frozen copy when its structure changed), makes each optimiser own
exactly its trainable parameters (the state of surviving parameters is kept), and calls `on_change()`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from replab.intervene.optim_state import set_params
from replab.intervene.schedule import ACTIONS, Inject, Reset, Schedule, mirror
from replab.probe.monitor import Monitor

RULES = ("copy", "ema")


@dataclass
class Shadow:
    """A network that shadows an online one: a target network or a key encoder.

    `getattr(owner, attr)` is the shadow (so a structural re-sync can replace it); rule "copy": θ̄ ← θ every
    `period` updates; "ema": θ̄ ← τ θ + (1 − τ) θ̄ every `period` updates."""

    online: nn.Module
    owner: Any
    attr: str
    rule: str
    tau: float = 1.0
    period: int = 1

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {self.rule!r}")
        if not 0.0 <= self.tau <= 1.0 or self.period < 1:
            raise ValueError(f"need 0 <= tau <= 1 and period >= 1, got {self.tau}, {self.period}")

    @property
    def target(self) -> nn.Module:
        return getattr(self.owner, self.attr)

    def resync(self) -> None:
        """θ̄ ← θ; when the online network's structure changed, the shadow becomes a frozen copy of it."""
        a, b = self.online.state_dict(), self.target.state_dict()
        if a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a):
            self.target.load_state_dict(a)
        else:
            setattr(self.owner, self.attr, mirror(self.online))


class Agent(Protocol):
    aux: list
    initializer: Callable[[nn.Module], None] | None

    def act(self, obs, *, explore: bool): ...
    def update(self, batch, step: int) -> dict[str, float]: ...
    def add_aux(self, objective, coef: float = 1.0) -> None: ...
    def networks(self) -> dict[str, nn.Module]: ...
    def parts(self) -> dict[str, list[str]]: ...
    def shadows(self) -> list[Shadow]: ...
    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...
    def owned_parameters(self) -> dict[str, list[nn.Parameter]]: ...
    def trace(self, batch) -> None: ...
    def view(self, obs: torch.Tensor) -> torch.Tensor: ...
    def on_change(self) -> None: ...


class AgentBase:
    """Defaults for a user's own agent: one optimiser stepping every trainable parameter of its networks
    and auxiliary objectives, no roles, identity `view`, `trace` running each network on `batch.obs`,
    PyTorch's initialisers. Subclasses write `act`, `update`, `networks`, `shadows` and `optimizers`."""

    initializer: Callable[[nn.Module], None] | None = None

    @property
    def aux(self) -> list:
        return self.__dict__.setdefault("_aux", [])

    def add_aux(self, objective, coef: float = 1.0) -> None:
        self.aux.append((objective, coef))
        sync_optimizers(self)

    def parts(self) -> dict[str, list[str]]:
        return {}

    def owned_parameters(self) -> dict[str, list[nn.Parameter]]:
        (name,) = self.optimizers()  # more than one optimiser: say which owns what
        nets = [p for net in self.networks().values() for p in net.parameters()]
        return {name: unique([*nets, *(p for o, _ in self.aux for p in o.parameters())])}

    def trace(self, batch) -> None:
        with torch.no_grad():
            for net in self.networks().values():
                net(batch.obs)

    def view(self, obs: torch.Tensor) -> torch.Tensor:
        return obs

    def on_change(self) -> None:
        pass


def aux_shadows(aux: list) -> list[Shadow]:
    """The shadows (key encoders) of auxiliary objectives that have them."""
    return [s for objective, _ in aux if hasattr(objective, "shadows") for s in objective.shadows()]


def unique(params) -> list[nn.Parameter]:
    """Trainable parameters, each once, in first-seen order."""
    seen, out = set(), []
    for p in params:
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def model_of(agent: Agent) -> nn.Module:
    """The agent's online network, or an `nn.ModuleDict` of them (shared parameters appear once)."""
    nets = agent.networks()
    return next(iter(nets.values())) if len(nets) == 1 else nn.ModuleDict(nets)


def part(agent: Agent, role: str) -> nn.Module:
    """The module playing `role` ("encoder", "head") or at a dotted path; the first when a role has several."""
    network, path = resolve(agent, role)[0]
    return agent.networks()[network].get_submodule(path)


def resolve(agent: Agent, path: str) -> list[tuple[str, str]]:
    """(network, path inside it) for a role of `agent.parts()` or a dotted path "network.sub.module"
    ("" or "all": every network whole)."""
    nets, roles = agent.networks(), agent.parts()
    if path in ("", "all"):
        return [(name, "") for name in nets]
    out = []
    for p in roles.get(path, [path]):
        root, _, sub = p.partition(".")
        if root not in nets or (sub and sub not in dict(nets[root].named_modules())):
            raise ValueError(
                f"the agent has no part {path!r}: use a role {sorted(roles)}, a network {sorted(nets)}, "
                "or a dotted path such as 'critic.q1'"
            )
        out.append((root, sub))
    return out


class Encoded(nn.Module):
    """`encoder(view(obs))`: an agent's representation of raw observations, as one module to probe."""

    def __init__(self, encoder: nn.Module, view: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.encoder, self._view = encoder, view

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder(self._view(obs))


def watched_encoder(agent: Agent) -> Callable[[], nn.Module]:
    """The agent's encoder (`parts()["encoder"]`) on raw observations, looked up at each call, so a monitor
    keeps watching it after an intervention replaced it (probe it at the layer `encoder`)."""
    return lambda: Encoded(part(agent, "encoder"), agent.view)


def encoder_monitor(agent: Agent, obs: torch.Tensor, log: Callable[[dict, int], None], **kwargs) -> Monitor:
    """A `Monitor` of the agent's encoder (`watched_encoder`) on the fixed raw observations `obs`,
    logged as `probe/<probe>/encoder`; `kwargs` go to `Monitor` (probes=, every=, arm=)."""
    return Monitor(watched_encoder(agent), obs, ["encoder"], log, **kwargs)


def sync_optimizers(agent: Agent) -> None:
    """Make every optimiser step exactly the parameters the agent says it owns (state of the others kept)."""
    owned = agent.owned_parameters()
    for name, opt in agent.optimizers().items():
        set_params(opt, owned[name])


def _snapshot(shadows: list[Shadow]) -> dict:
    return {(id(s.owner), s.attr): {k: v.clone() for k, v in s.online.state_dict().items()} for s in shadows}


def _changed(before: dict, module: nn.Module) -> bool:
    now = module.state_dict()
    return now.keys() != before.keys() or any(
        now[k].shape != before[k].shape or not torch.equal(now[k], before[k]) for k in now
    )


def intervene(
    agent: Agent, action: Callable, *, batch=None, generator: torch.Generator | None = None
) -> dict:
    """Run one intervention `action` (a `replab.intervene` action, or any callable `action(model, *,
    optimizer, batch, generator)`) on `agent`, then re-sync its shadows and optimisers; return its record.

    `Reset`/`Inject` act on their module (a role of `agent.parts()` or a dotted path), once per module the
    role names; `ShrinkPerturb`, `ReDo`, `LayerNorm` and other callables act on the agent's networks
    together (`model_of`). Re-drawn weights come from `agent.initializer`; ReDo scores units on
    `agent.trace(batch)` (`batch` a replay batch, or a callable returning one). An action with
    `modifies = False` (a measurement) changes nothing and re-syncs nothing."""
    modifies = getattr(action, "modifies", True)
    before = _snapshot(agent.shadows()) if modifies else {}
    opts = list(agent.optimizers().values())
    kw = dict(optimizer=opts, generator=generator)
    if type(action) in ACTIONS.values():
        kw["init"] = agent.initializer
    info: dict = {}
    if isinstance(action, Reset | Inject):
        field = "module" if isinstance(action, Reset) else "head"
        nets = agent.networks()
        for network, sub in resolve(agent, getattr(action, field)):
            info |= dataclasses.replace(action, **{field: sub})(nets[network], batch=None, **kw) or {}
    else:
        needs_batch = getattr(action, "name", "") == "redo"
        b = batch() if callable(batch) and needs_batch else batch
        x = (lambda: agent.trace(b)) if needs_batch else b
        info = action(model_of(agent), batch=x, **kw) or {}
    if modifies:
        for shadow in agent.shadows():
            key = (id(shadow.owner), shadow.attr)
            if key not in before or _changed(before[key], shadow.online):
                shadow.resync()
        sync_optimizers(agent)
        agent.on_change()
    return info


def apply_schedule(schedule: Schedule, step: int, agent: Agent, *, batch=None) -> list[dict]:
    """Run the actions of `schedule` due at `step` on `agent` (`intervene`), then the schedule's
    `on_change` hooks with the agent when one of them modified it. One record per action."""
    actions, records = schedule.due(step), []
    for action in actions:
        info = intervene(agent, action, batch=batch, generator=schedule.generator)
        records.append({"step": step, "action": getattr(action, "name", repr(action)), **info})
    if any(getattr(a, "modifies", True) for a in actions):
        for hook in schedule.on_change:
            hook(agent)
    return records
