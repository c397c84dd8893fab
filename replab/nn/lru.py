"""The Linear Recurrent Unit (Orvieto et al., ICML 2023, arXiv 2303.06349) and the recurrences of its ablation.

`LRU` is the paper's layer (§3, App. A): a complex diagonal linear recurrence

    x_k = diag(λ) x_{k-1} + γ ⊙ (B u_k),    y_k = Re(C x_k) + D ⊙ u_k,    x_{-1} = 0,

with λ_j = exp(−exp(ν_j) + i·exp(θ_j)) (the stable exponential parametrization, §3.2), ν and θ initialised
so that λ is uniform on the ring r_min ≤ |λ| ≤ r_max with phase in [0, max_phase] (§3.2.2), and
γ_j = exp(γ_log_j) initialised to sqrt(1 − |λ_j|²) (§3.3). Trained with `linear_scan` (parallel), run
token by token with `step`. `DenseRNN` holds the first rungs of the ablation (tanh RNN and linear dense
RNN, §3.1); `ladder_rung` builds every rung as keyword arguments of `make_recurrence`, so the whole
ladder is configuration of one sequence model (`replab.nn.lru_model.SequenceModel`).

Shapes: inputs and outputs (B, L, H) with H = `d_model`; states (B, N) complex with N = `d_state`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from replab.nn.scan import linear_scan, linear_scan_dense, scan_step, sequential_scan

PARAMETRIZATIONS = ("real_im", "exp", "stable_exp")
"""How λ is parametrized (LRU Table 2): λ = a + ib; λ = exp(−ν + iθ); λ = exp(−exp(ν) + i·exp(θ))."""


def ring_init(
    n: int, r_min: float, r_max: float, max_phase: float, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Moduli and phases of n eigenvalues uniform on the ring r_min ≤ |λ| ≤ r_max, arg λ ∈ [0, max_phase].

    LRU §3.2.2 / App. A: |λ|² ~ U[r_min², r_max²] (uniform in area) and arg λ ~ U[0, max_phase].
    Returns (modulus (n,), phase (n,)). r_min = 0, r_max = 1 is the unit disk, the eigenvalue law of a
    Glorot-initialised dense matrix (the paper's init before ring init).
    """
    u1 = torch.rand(n, generator=generator, dtype=torch.float64)
    u2 = torch.rand(n, generator=generator, dtype=torch.float64)
    modulus = torch.sqrt(u1 * (r_max**2 - r_min**2) + r_min**2)
    return modulus.clamp_min(1e-8).float(), (max_phase * u2).clamp_min(1e-8).float()


class LRU(nn.Module):
    """The Linear Recurrent Unit layer, (B, L, H) → (B, L, H).

    Args:
        d_model: H, input and output width.
        d_state: N, number of complex state dimensions.
        r_min, r_max: ring of |λ| at initialisation, 0 ≤ r_min < r_max ≤ 1 (paper default 0, 1 in the
            minimal-LRU code; the LRA runs use e.g. 0.9, 0.999).
        max_phase: largest arg λ at initialisation, in (0, 2π] (paper: 2π; π/10 for PathX).
        parametrization: "stable_exp" (the LRU), or "exp" / "real_im" for the ablation (LRU Table 2).
        gamma_norm: multiply B u by γ = exp(γ_log), initialised to sqrt(1−|λ|²) (LRU §3.3). False removes γ.
        generator: torch generator for the initialisation (a named stream of the run).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int,
        *,
        r_min: float = 0.0,
        r_max: float = 1.0,
        max_phase: float = 2 * math.pi,
        parametrization: str = "stable_exp",
        gamma_norm: bool = True,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if d_model < 1 or d_state < 1:
            raise ValueError(f"d_model and d_state must be >= 1, got d_model={d_model}, d_state={d_state}")
        if not 0.0 <= r_min < r_max <= 1.0:
            raise ValueError(f"need 0 <= r_min < r_max <= 1, got r_min={r_min}, r_max={r_max}")
        if not 0.0 < max_phase <= 2 * math.pi + 1e-6:
            raise ValueError(f"max_phase must be in (0, 2π], got {max_phase}")
        if parametrization not in PARAMETRIZATIONS:
            raise ValueError(f"parametrization must be one of {PARAMETRIZATIONS}, got '{parametrization}'")
        self.d_model, self.d_state, self.parametrization, self.gamma_norm = (
            d_model,
            d_state,
            parametrization,
            gamma_norm,
        )
        self.r_min, self.r_max, self.max_phase = r_min, r_max, max_phase
        modulus, phase = ring_init(d_state, r_min, r_max, max_phase, generator)
        if parametrization == "stable_exp":  # LRU App. A: nu_log = log(−log|λ|), theta_log = log(arg λ)
            self.nu_log = nn.Parameter(torch.log(-torch.log(modulus.clamp_max(1 - 1e-7))))
            self.theta_log = nn.Parameter(torch.log(phase))
        elif parametrization == "exp":  # λ = exp(−ν + iθ): |λ| can leave the unit disk during training
            self.nu = nn.Parameter(-torch.log(modulus))
            self.theta = nn.Parameter(phase.clone())
        else:  # λ = a + ib
            self.lam_re = nn.Parameter(modulus * torch.cos(phase))
            self.lam_im = nn.Parameter(modulus * torch.sin(phase))
        if gamma_norm:  # LRU §3.3: γ_log = log sqrt(1 − |λ|²)
            self.gamma_log = nn.Parameter(0.5 * torch.log1p(-(modulus.clamp_max(1 - 1e-7) ** 2)))
        # LRU App. A: B ~ N(0, 1/(2H)) per real/imaginary part, C ~ N(0, 1/N), D ~ N(0, 1)
        self.B_re = nn.Parameter(torch.randn(d_state, d_model, generator=generator) / math.sqrt(2 * d_model))
        self.B_im = nn.Parameter(torch.randn(d_state, d_model, generator=generator) / math.sqrt(2 * d_model))
        self.C_re = nn.Parameter(torch.randn(d_model, d_state, generator=generator) / math.sqrt(d_state))
        self.C_im = nn.Parameter(torch.randn(d_model, d_state, generator=generator) / math.sqrt(d_state))
        self.D = nn.Parameter(torch.randn(d_model, generator=generator))

    ssm_parameter_names = (
        "nu_log",
        "theta_log",
        "nu",
        "theta",
        "lam_re",
        "lam_im",
        "gamma_log",
        "B_re",
        "B_im",
    )
    """Parameters trained with a reduced learning rate and no weight decay (minimal-LRU `train_helpers`)."""

    def lambda_(self) -> Tensor:
        """The diagonal of the recurrence, λ (N,) complex64."""
        if self.parametrization == "stable_exp":
            return torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))
        if self.parametrization == "exp":
            return torch.exp(torch.complex(-self.nu, self.theta))
        return torch.complex(self.lam_re, self.lam_im)

    def gamma(self) -> Tensor:
        """The input normalisation γ (N,): exp(γ_log), or ones without `gamma_norm`."""
        if self.gamma_norm:
            return torch.exp(self.gamma_log)
        return torch.ones(self.d_state, device=self.B_re.device)

    def _input(self, u: Tensor) -> Tensor:
        """γ ⊙ (B u) for u (..., H): complex (..., N)."""
        # one real matmul with the rows (Re B_j, Im B_j) interleaved, read back as complex: much faster on
        # CPU than a complex matmul, same numbers
        W = torch.stack([self.B_re, self.B_im], dim=1) * self.gamma()[:, None, None]  # (N, 2, H)
        bu = u @ W.reshape(2 * self.d_state, self.d_model).transpose(0, 1)
        return torch.view_as_complex(bu.reshape(*bu.shape[:-1], self.d_state, 2))

    def _output(self, x: Tensor, u: Tensor) -> Tensor:
        """Re(C x) + D ⊙ u without forming complex products: Re(C x) = C_re x_re − C_im x_im, as one real
        matmul of x's (re, im) pairs with the columns (C_re, −C_im) interleaved (no strided copies of x)."""
        W = torch.stack([self.C_re, -self.C_im], dim=2).reshape(self.d_model, 2 * self.d_state)  # (H, 2N)
        xr = torch.view_as_real(x)
        return xr.reshape(*xr.shape[:-2], 2 * self.d_state) @ W.transpose(0, 1) + self.D * u

    def forward(self, u: Tensor, scan: str = "parallel") -> Tensor:
        """(B, L, H) → (B, L, H). `scan="sequential"` runs the reference loop (tests, benchmarks)."""
        lam, bu = self.lambda_(), self._input(u)
        x = linear_scan(lam, bu) if scan == "parallel" else sequential_scan(lam, bu)
        return self._output(x, u)

    def initial_state(self, batch: int) -> Tensor:
        return torch.zeros(batch, self.d_state, dtype=torch.complex64, device=self.B_re.device)

    def step(self, u: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """One token: u (B, H), state x (B, N) complex → (y (B, H), new state). O(1) in the sequence length."""
        x = scan_step(self.lambda_(), x, self._input(u))
        return self._output(x, u), x


class DenseRNN(nn.Module):
    """The dense recurrences at the start of the ablation (LRU §3.1), (B, L, H) → (B, L, H).

    x_k = σ(A x_{k-1} + B u_k), y_k = C x_k + D ⊙ u_k with real state (N,), σ = tanh ("tanh", the vanilla
    RNN) or the identity ("linear"). Glorot-style init: A ~ N(0, 1/N) (eigenvalues ≈ uniform on the unit
    disk), B ~ N(0, 1/H), C ~ N(0, 1/N), D ~ N(0, 1). The tanh RNN runs torch's fused RNN loop; the linear
    one uses the parallel scan with a dense coefficient (`linear_scan_dense`).
    """

    ssm_parameter_names = ("A", "B")

    def __init__(
        self,
        d_model: int,
        d_state: int,
        *,
        nonlinearity: str = "tanh",
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if d_model < 1 or d_state < 1:
            raise ValueError(f"d_model and d_state must be >= 1, got d_model={d_model}, d_state={d_state}")
        if nonlinearity not in ("tanh", "linear"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'linear', got '{nonlinearity}'")
        self.d_model, self.d_state, self.nonlinearity = d_model, d_state, nonlinearity
        self.A = nn.Parameter(torch.randn(d_state, d_state, generator=generator) / math.sqrt(d_state))
        self.B = nn.Parameter(torch.randn(d_state, d_model, generator=generator) / math.sqrt(d_model))
        self.C = nn.Parameter(torch.randn(d_model, d_state, generator=generator) / math.sqrt(d_state))
        self.D = nn.Parameter(torch.randn(d_model, generator=generator))

    def forward(self, u: Tensor, scan: str = "parallel") -> Tensor:
        """(B, L, H) → (B, L, H)."""
        if self.nonlinearity == "tanh":
            h0 = torch.zeros(1, u.shape[0], self.d_state, dtype=u.dtype, device=u.device)
            x, _ = torch._VF.rnn_tanh(u, h0, (self.B, self.A), False, 1, 0.0, self.training, False, True)
        else:
            bu = u @ self.B.transpose(0, 1)
            x = linear_scan_dense(self.A, bu) if scan == "parallel" else _dense_loop(self.A, bu)
        return x @ self.C.transpose(0, 1) + self.D * u

    def initial_state(self, batch: int) -> Tensor:
        return torch.zeros(batch, self.d_state, device=self.A.device)

    def step(self, u: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """One token: u (B, H), state x (B, N) → (y (B, H), new state)."""
        x = x @ self.A.transpose(0, 1) + u @ self.B.transpose(0, 1)
        if self.nonlinearity == "tanh":
            x = torch.tanh(x)
        return x @ self.C.transpose(0, 1) + self.D * u, x


def _dense_loop(A: Tensor, bu: Tensor) -> Tensor:
    h, out = torch.zeros_like(bu[:, 0]), []
    for bu_t in bu.unbind(1):
        h = h @ A.transpose(0, 1) + bu_t
        out.append(h)
    return torch.stack(out, dim=1)


def make_recurrence(
    kind: str, d_model: int, d_state: int, generator: torch.Generator | None = None, **kwargs
) -> nn.Module:
    """An `LRU` (kind "lru") or a `DenseRNN` (kind "dense") from the keyword arguments of a ladder rung."""
    if kind == "lru":
        return LRU(d_model, d_state, generator=generator, **kwargs)
    if kind == "dense":
        return DenseRNN(d_model, d_state, generator=generator, **kwargs)
    raise ValueError(f"recurrence kind must be 'lru' or 'dense', got '{kind}'")


LADDER = ("tanh_rnn", "linear_rnn", "diag_complex", "stable_exp", "ring_init", "lru", "lru_rmin0")
"""The ablation ladder of LRU §3 (Fig. 1 right, Tables 1–3), from the vanilla RNN to the LRU:
tanh_rnn → linear_rnn (§3.1, drop the nonlinearity) → diag_complex (§3.2.1, complex diagonal λ = a+ib,
disk init) → stable_exp (§3.2.1, λ = exp(−exp ν + i exp θ), disk init) → ring_init (§3.2.2, |λ| on the
ring [r_min, r_max]) → lru (§3.3, + γ normalisation: the full LRU); lru_rmin0 is the LRU with r_min = 0,
and "exp" (λ = exp(−ν + iθ), Table 2's unstable row) is available as an extra rung."""


def ladder_rung(
    name: str, *, r_min: float = 0.9, r_max: float = 0.999, max_phase: float = 2 * math.pi
) -> dict:
    """The `make_recurrence` keyword arguments of rung `name` of the ladder; (r_min, r_max, max_phase) is
    the ring used from `ring_init` on (the rungs before it start from the unit disk, LRU §3.2.1)."""
    disk = dict(r_min=0.0, r_max=1.0, max_phase=2 * math.pi)
    rungs = {
        "tanh_rnn": dict(kind="dense", nonlinearity="tanh"),
        "linear_rnn": dict(kind="dense", nonlinearity="linear"),
        "diag_complex": dict(kind="lru", parametrization="real_im", gamma_norm=False, **disk),
        "exp": dict(kind="lru", parametrization="exp", gamma_norm=False, **disk),
        "stable_exp": dict(kind="lru", parametrization="stable_exp", gamma_norm=False, **disk),
        "ring_init": dict(
            kind="lru",
            parametrization="stable_exp",
            gamma_norm=False,
            r_min=r_min,
            r_max=r_max,
            max_phase=max_phase,
        ),
        "lru": dict(
            kind="lru",
            parametrization="stable_exp",
            gamma_norm=True,
            r_min=r_min,
            r_max=r_max,
            max_phase=max_phase,
        ),
        "lru_rmin0": dict(
            kind="lru",
            parametrization="stable_exp",
            gamma_norm=True,
            r_min=0.0,
            r_max=r_max,
            max_phase=max_phase,
        ),
    }
    if name not in rungs:
        raise ValueError(f"unknown ladder rung '{name}'; choose one of {tuple(rungs)}")
    return rungs[name]


def lru_param_groups(
    model: nn.Module, lr: float, weight_decay: float, ssm_lr_factor: float = 0.5
) -> list[dict]:
    """Optimizer parameter groups as in the paper's code (minimal-LRU `train_helpers.create_train_state`).

    The recurrence parameters each layer lists in `ssm_parameter_names` (ν, θ, γ_log, B for the LRU) get
    lr × `ssm_lr_factor` and no weight decay; all other parameters get lr and `weight_decay` (AdamW).
    """
    if not 0 < ssm_lr_factor <= 10:
        raise ValueError(f"ssm_lr_factor must be in (0, 10], got {ssm_lr_factor}")
    ssm = {}
    for module in model.modules():
        for name in getattr(module, "ssm_parameter_names", ()):
            p = getattr(module, name, None)
            if isinstance(p, nn.Parameter):
                ssm[id(p)] = p
    other = [p for p in model.parameters() if id(p) not in ssm]
    groups = [{"params": other, "lr": lr, "weight_decay": weight_decay, "name": "regular"}]
    if ssm:
        groups.append(
            {"params": list(ssm.values()), "lr": lr * ssm_lr_factor, "weight_decay": 0.0, "name": "ssm"}
        )
    return groups
