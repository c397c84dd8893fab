"""Interventions that keep networks plastic (DESIGN §2 'Interventions').

Each takes a model and changes it in place (returning it) or returns a changed copy, and says which; each
that replaces or re-initialises parameters takes the `optimizer` and a `reset_optimizer_state` flag so the
optimiser's moments of those parameters are dropped or kept.

- `inject_plasticity` (Nikishin et al. 2023), in place, outputs unchanged;
- `reset`, `shrink_perturb` (Ash & Adams 2020), in place;
- `add_layernorm` (Lyle et al. 2023's best intervention), a copy by default;
- `redo` (Sokar et al. 2023, recycling dormant units), in place, outputs unchanged;
- `Schedule`: interventions at given steps of any training loop (on agents: `replab.rl.agent.apply_schedule`,
  which re-syncs their target networks and optimisers).
"""

from replab.intervene.inject import InjectedHead, freeze, inject_plasticity, widen
from replab.intervene.layernorm import add_layernorm
from replab.intervene.redo import recyclable_layers, redo
from replab.intervene.reset import reinitialize, reset, shrink_perturb
from replab.intervene.schedule import (
    ACTIONS,
    Inject,
    LayerNorm,
    ReDo,
    Reset,
    Schedule,
    ShrinkPerturb,
    mirror,
    sync_target,
)

__all__ = [
    "ACTIONS",
    "Inject",
    "InjectedHead",
    "LayerNorm",
    "ReDo",
    "Reset",
    "Schedule",
    "ShrinkPerturb",
    "add_layernorm",
    "freeze",
    "inject_plasticity",
    "mirror",
    "recyclable_layers",
    "redo",
    "reinitialize",
    "reset",
    "shrink_perturb",
    "sync_target",
    "widen",
]
