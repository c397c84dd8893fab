"""Representation diagnostics: functions of activations, weights, or a model plus data (DESIGN §2).

They never change the model (train/eval mode restored, no optimizer state touched).
"""

from replab.probe.curvature import hessian_top_eigenvalue
from replab.probe.gradients import (
    covariance_summary,
    gradient_covariance,
    gradient_interference,
    gradient_norm,
    per_example_gradients,
    weight_norm,
)
from replab.probe.layers import LayerProbe
from replab.probe.linear import linear_probe
from replab.probe.monitor import MODEL_PROBES, Monitor
from replab.probe.plasticity import ProbeTask, fit_task, fresh_copy, plasticity_probe, probe_loss
from replab.probe.rank import covariance_spectrum, numerical_rank, srank
from replab.probe.regression import RidgeProbe, ridge_probe
from replab.probe.units import dormant_fraction, feature_norm, unit_scores

__all__ = [
    "MODEL_PROBES",
    "LayerProbe",
    "Monitor",
    "ProbeTask",
    "RidgeProbe",
    "covariance_spectrum",
    "covariance_summary",
    "dormant_fraction",
    "feature_norm",
    "fit_task",
    "fresh_copy",
    "gradient_covariance",
    "gradient_interference",
    "gradient_norm",
    "hessian_top_eigenvalue",
    "linear_probe",
    "numerical_rank",
    "per_example_gradients",
    "plasticity_probe",
    "probe_loss",
    "ridge_probe",
    "srank",
    "unit_scores",
    "weight_norm",
]
