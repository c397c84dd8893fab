"""Factorial ANOVA for designs of factors of variation (Rusu et al. 2022, seed002 §8.2 "Statistics").

`factorial_anova(data, "score", ["mode", "difficulty"])` fits the full-factorial linear model
score ~ A * B * … (every main effect and interaction up to `order`) by least squares with statsmodels
(`ols` + `anova_lm`, extra `anova`) and returns one row per term:

    SS, df, F, p,  partial η² = SS_term / (SS_term + SS_error),  η² = SS_term / SS_total (variance explained)

Type-II sums of squares by default (seed002 §8.2: typ=2; with balanced cells Types I, II and III agree);
`typ=3` uses sum-to-zero coding so main effects are tested at the average of the other factors.
Replicates (seeds, episodes) must exist: a saturated model leaves no error term and is refused.
`rank=True` replaces the response by its ranks (the rank-transformed ANOVA for non-normal scores);
`levene` checks homoscedasticity across cells (seed002 §8.2).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from replab.errors import require_extra


@dataclass(frozen=True)
class Term:
    """One row of the ANOVA table."""

    name: str
    """"mode", "mode:difficulty", ... or "Residual"."""
    ss: float
    df: float
    f: float
    p: float
    partial_eta2: float
    eta2: float
    """SS_term / SS_total: the share of the total variance the term explains."""

    @property
    def order(self) -> int:
        """1 for a main effect, 2 for a two-way interaction, …, 0 for the residual."""
        return 0 if self.name == "Residual" else self.name.count(":") + 1


@dataclass(frozen=True)
class AnovaTable:
    terms: tuple[Term, ...]
    n: int
    typ: int
    rank: bool

    def __getitem__(self, name: str) -> Term:
        for t in self.terms:
            if t.name == name:
                return t
        raise KeyError(f"no term {name!r}; terms are {[t.name for t in self.terms]}")

    def effects(self) -> list[Term]:
        return [t for t in self.terms if t.order > 0]

    def significant(self, alpha: float = 0.05, *, order: int | None = None) -> list[Term]:
        """Terms with p < alpha (of one order: 1 main effects, ≥2 interactions)."""
        return [t for t in self.effects() if t.p < alpha and (order is None or t.order == order)]

    def explained(self, *, interactions: bool) -> float:
        """η² summed over the interactions (True) or over the main effects (False)."""
        return float(sum(t.eta2 for t in self.effects() if (t.order > 1) == interactions))

    def rows(self) -> list[list]:
        """[term, SS, df, F, p, partial η², η²] per term, for `markdown_table`."""
        return [[t.name, t.ss, t.df, t.f, t.p, t.partial_eta2, t.eta2] for t in self.terms]

    HEADER = ("term", "SS", "df", "F", "p", "partial η²", "η² (variance explained)")


def _frame(data, response: str, factors: list[str]):
    pd = require_extra("pandas", "anova")
    df = pd.DataFrame(data)
    missing = [c for c in [response, *factors] if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are missing; the data has {list(df.columns)}")
    if not factors or len(set(factors)) != len(factors):
        raise ValueError(f"factors must be distinct, non-empty column names, got {factors}")
    for f in factors:
        if df[f].nunique() < 2:
            raise ValueError(f"factor {f!r} has a single level ({df[f].iloc[0]!r}); drop it or vary it")
    if not np.isfinite(df[response].to_numpy(dtype=float)).all():
        raise ValueError(f"response {response!r} has non-finite values; drop diverged runs first")
    return df


def factorial_anova(
    data, response: str, factors: list[str], *, order: int | None = None, typ: int = 2, rank: bool = False
) -> AnovaTable:
    """The full-factorial ANOVA of `response` on `factors` (all interactions up to `order`, default all).

    `data`: a pandas DataFrame or a dict of equal-length columns (one row per replicate)."""
    if typ not in (1, 2, 3):
        raise ValueError(f"typ must be 1, 2 or 3, got {typ}")
    smf = require_extra("statsmodels.formula.api", "anova")
    sm = require_extra("statsmodels.api", "anova")
    df = _frame(data, response, list(factors)).copy()
    k = len(factors)
    order = k if order is None else order
    if not 1 <= order <= k:
        raise ValueError(f"order must be in [1, {k}], got {order}")
    y = "__y"
    df[y] = df[response].rank() if rank else df[response].astype(float)
    if float(df[y].var()) == 0.0:
        raise ValueError(
            f"response {response!r} is constant ({df[y].iloc[0]!r}): there is no variance to analyse"
        )
    names = {f: f"__f{i}" for i, f in enumerate(factors)}
    for f, c in names.items():
        df[c] = df[f].astype(str)
    coding = ", Sum" if typ == 3 else ""
    terms = [
        ":".join(f"C({names[f]}{coding})" for f in combo)
        for r in range(1, order + 1)
        for combo in itertools.combinations(factors, r)
    ]
    model = smf.ols(f"{y} ~ " + " + ".join(terms), data=df).fit()
    if model.df_resid < 1:
        raise ValueError(
            f"the model is saturated ({len(df)} rows for {int(model.df_model) + 1} parameters): add replicates "
            "(seeds, episodes) or lower `order`"
        )
    table = sm.stats.anova_lm(model, typ=typ)
    table = table.drop(index=[i for i in table.index if i == "Intercept"])
    ss_total = float(((df[y] - df[y].mean()) ** 2).sum())
    ss_err = float(table.loc["Residual", "sum_sq"])
    back = {f"C({c}{coding})": f for f, c in names.items()}
    out = []
    for idx, row in table.iterrows():
        name = "Residual" if idx == "Residual" else ":".join(back[p] for p in idx.split(":"))
        ss = float(row["sum_sq"])
        f = float(row.get("F", math.nan)) if idx != "Residual" else math.nan
        p = float(row.get("PR(>F)", math.nan)) if idx != "Residual" else math.nan
        partial = ss / (ss + ss_err) if idx != "Residual" and ss + ss_err > 0 else math.nan
        out.append(
            Term(name, ss, float(row["df"]), f, p, partial, ss / ss_total if ss_total > 0 else math.nan)
        )
    return AnovaTable(tuple(out), len(df), typ, rank)


def levene(data, response: str, factors: list[str]) -> tuple[float, float]:
    """Levene's test (median-centred, Brown–Forsythe) of equal variances across the design's cells: (W, p)."""
    from scipy import stats

    df = _frame(data, response, list(factors))
    groups = [g[response].to_numpy(dtype=float) for _, g in df.groupby(list(factors))]
    groups = [g for g in groups if g.size > 1]
    if len(groups) < 2:
        raise ValueError("Levene's test needs at least two cells with two or more replicates")
    w, p = stats.levene(*groups, center="median")
    return float(w), float(p)


def cell_means(data, response: str, factors: list[str]) -> dict[tuple, float]:
    """{(level of each factor): mean response} over the replicates of each cell."""
    df = _frame(data, response, list(factors))
    return {
        (k if isinstance(k, tuple) else (k,)): float(v)
        for k, v in df.groupby(list(factors))[response].mean().items()
    }
