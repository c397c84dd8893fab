"""TD loss gain at temporal offsets along stored trajectories (seed004 §S2.2, Bengio 2022 §3.2.2.4,
Figs 3.7–3.9, 3.12–3.13).

For an update sample at buffer position i: one SGD step of size α on its loss alone (a functional copy
of the parameters; the model is not stepped), then at the states s_{i+k} of the *same* trajectory,
k ∈ [−K, K]:

- gain(k) = L_before(s_{i+k}) − L_after(s_{i+k}) (§S2.7 sign convention: > 0 means the update helped
  that state, constructive interference; k = 0 is the update sample itself);
- first_order(k) = α ∇L(s_{i+k})ᵀ ∇J(s_i), the same to first order in α (eq. 3.7–3.11, "gain ≈ αρ");
- cosine(k) = cos(∇J(s_i), ∇J(s_{i+k})), the "stiffness" of Fig 3.12 (gradients of the update loss J).

L (the measured pointwise loss) and J (the update loss) are given separately: the thesis measures the
Q-learning TD loss (eq. 3.17) whatever the objective trained (Fig 3.7). Offsets that leave the buffer or
the trajectory are masked (nan). Everything runs in float64 on a copy of the parameters with
`torch.func` (vmap over the update samples, their steps and the neighbours), so a probe of 32 updates ×
61 offsets costs a few vmapped passes, not 32 × 61 Python steps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, jvp, vmap

from replab.probe.guard import preserved

GRAD_CHUNK = 128
"""Neighbours per vmapped chunk of per-sample gradients (memory: GRAD_CHUNK × parameters float64)."""

RowLoss = Callable[[Callable[[Tensor], Tensor], dict[str, Tensor]], Tensor]
"""loss(f, row) -> scalar, with f(x) the network's output for one example x and row a dict of one
transition's tensors (no batch dimension)."""


def trajectory_offsets(traj: Tensor, centres: Tensor, offsets: Tensor) -> tuple[Tensor, Tensor]:
    """(index (C, K), valid (C, K)): buffer rows centres[c] + offsets[k], clamped into the buffer, and
    whether that row exists and lies on the trajectory of centres[c] (`traj`: trajectory id per row,
    rows of one trajectory consecutive)."""
    n = traj.shape[0]
    raw = centres[:, None] + offsets[None, :]
    inside = (raw >= 0) & (raw < n)
    index = raw.clamp(0, n - 1)
    valid = inside & (traj[index] == traj[centres][:, None])
    return index, valid


def _take(rows: dict[str, Tensor], index: Tensor) -> dict[str, Tensor]:
    """The rows at `index`, floating ones in float64 (converted after the gather: a large buffer of image
    states is never copied whole)."""
    return {k: v[index].double() if v.is_floating_point() else v[index] for k, v in rows.items()}


NESTED_BYTES = 2**28
"""Above C × K × parameters × 8 bytes, the per-centre evaluations loop over the centres (`_each_centre`)."""


def _each_centre(fn, per_centre: dict[str, Tensor], rows: dict[str, Tensor], index: Tensor) -> Tensor:
    """fn(p_c, row) for every centre c and its K rows `index[c]`, (C, K), p_c = {name: per_centre[name][c]}.

    A vmap over both centres and rows makes a layer with per-centre weights copy them for every row
    (C × K × parameters): the fastest for the CartPole MLP (0.16 s a DEFAULT probe against 0.35 s looped),
    7× slower for the MinAtar conv net's 131k parameters (24 s against 3.3 s, measured). So beyond
    `NESTED_BYTES` of such copies, a loop over the centres, each a vmap over its rows."""
    n_params = sum(v[0].numel() for v in per_centre.values())
    c, k = index.shape
    if c * k * n_params * 8 <= NESTED_BYTES:
        return vmap(vmap(fn, in_dims=(None, 0)), in_dims=(0, 0))(per_centre, _take(rows, index))
    each = vmap(fn, in_dims=(None, 0))
    return torch.stack(
        [each({n: v[i] for n, v in per_centre.items()}, _take(rows, index[i])) for i in range(c)]
    )


def offset_gain(
    model: nn.Module,
    update_loss: RowLoss,
    measure_loss: RowLoss | dict[str, RowLoss],
    rows: dict[str, Tensor],
    centres: Tensor,
    offsets: Tensor,
    valid: Tensor | None = None,
    *,
    lr: float,
    traj: Tensor | None = None,
) -> dict[str, Tensor]:
    """gain, first_order, cosine (each (C, K) float64, nan where masked) and `before` (the measured loss
    before the step) for update samples `centres` (C,) and `offsets` (K,) of the buffer `rows`
    ({name: (N, ...) tensor}). Pass `traj` (trajectory id per row) to mask offsets off the trajectory,
    or `valid` (C, K) directly; with neither only offsets outside the buffer are masked. With a dict of
    measured losses, gain, first_order and before are measured for each, keyed `gain:<name>` etc., from
    the same steps (the update and the cosine do not depend on the measured loss)."""
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    n = next(iter(rows.values())).shape[0]
    if traj is None:
        traj = torch.zeros(n, dtype=torch.long)
    index, inside = trajectory_offsets(traj, centres, offsets)
    valid = inside if valid is None else valid & inside
    c, k = index.shape
    with preserved(model, False):
        names = [name for name, p in model.named_parameters() if p.requires_grad]
        params = {name: p.detach().double() for name, p in model.named_parameters() if p.requires_grad}
        frozen = {name: p.detach().double() for name, p in model.named_parameters() if not p.requires_grad}

        def as_loss(loss: RowLoss):
            def f(p: dict[str, Tensor], row: dict[str, Tensor]) -> Tensor:
                return loss(lambda x: functional_call(model, {**p, **frozen}, (x.unsqueeze(0),))[0], row)

            return f

        measures = measure_loss if isinstance(measure_loss, dict) else {"": measure_loss}
        update = as_loss(update_loss)
        centre_rows, nb_rows = _take(rows, centres), _take(rows, index.reshape(-1))
        g_up = vmap(grad(update), in_dims=(None, 0))(params, centre_rows)  # ∇J(s_i), (C, ...)
        stepped = {name: params[name] - lr * g_up[name] for name in names}

        def along(loss):  # ∇loss(row)ᵀ tangent, forward mode (no per-sample gradient is stored)
            return lambda tangent, row: jvp(lambda p: loss(p, row), (params,), (tangent,))[1]

        out = {}
        for key, loss in measures.items():
            measure, tag = as_loss(loss), f":{key}" if key else ""
            before = vmap(measure, in_dims=(None, 0))(params, nb_rows).reshape(c, k)
            after = _each_centre(measure, stepped, rows, index)
            first = lr * _each_centre(along(measure), g_up, rows, index)
            out |= {f"gain{tag}": before - after, f"first_order{tag}": first, f"before{tag}": before}
        dots = _each_centre(along(update), g_up, rows, index)

        def sq_norm(p, row):  # |∇J(row)|², chunked below: C·K per-sample gradients are never all stored
            return sum(g.pow(2).sum() for g in grad(update)(p, row).values())

        sq = vmap(sq_norm, in_dims=(None, 0), chunk_size=GRAD_CHUNK)(params, nb_rows).reshape(c, k)
    norm_up = sum(g_up[name].reshape(c, -1).pow(2).sum(1) for name in names).sqrt()
    cosine = dots / (sq.sqrt() * norm_up[:, None]).clamp_min(1e-300)
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    out["cosine"] = cosine
    return {name: torch.where(valid, v.detach(), nan) for name, v in out.items()}
