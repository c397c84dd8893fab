"""Optimizers: staleness-corrected momentum for TD (seed004 §S3) and its baselines."""

from replab.optim.corrected_momentum import (
    CorrectedMomentum,
    DampenedMomentum,
    OracleMomentum,
    TDTerms,
    regression_terms,
    td_terms,
)

__all__ = [
    "CorrectedMomentum",
    "DampenedMomentum",
    "OracleMomentum",
    "TDTerms",
    "regression_terms",
    "td_terms",
]
