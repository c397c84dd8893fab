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
from replab.probe.interference import (
    batch_gradient_interference,
    function_interference_matrix,
    gradient_interference_matrix,
    mean_pairwise,
    td_interference_matrix,
)
from replab.probe.layers import LayerProbe
from replab.probe.linear import linear_probe
from replab.probe.memorization import gini, loss_sensitivity, sensitivity_gini
from replab.probe.monitor import MODEL_PROBES, Monitor
from replab.probe.plasticity import ProbeTask, fit_task, fresh_copy, plasticity_probe, probe_loss
from replab.probe.rank import covariance_spectrum, numerical_rank, srank
from replab.probe.regression import RidgeProbe, ridge_probe
from replab.probe.rho_evolution import rho_prime_autodiff, rho_prime_momentum, rho_prime_terms
from replab.probe.sign_variance import sign_variance
from replab.probe.td_gain import offset_gain
from replab.probe.td_lambda import lambda_returns
from replab.probe.units import dormant_fraction, feature_norm, unit_scores

__all__ = [
    "LayerProbe",
    "MODEL_PROBES",
    "Monitor",
    "ProbeTask",
    "RidgeProbe",
    "batch_gradient_interference",
    "covariance_spectrum",
    "covariance_summary",
    "dormant_fraction",
    "feature_norm",
    "fit_task",
    "fresh_copy",
    "function_interference_matrix",
    "gini",
    "gradient_covariance",
    "gradient_interference",
    "gradient_interference_matrix",
    "gradient_norm",
    "hessian_top_eigenvalue",
    "lambda_returns",
    "linear_probe",
    "loss_sensitivity",
    "mean_pairwise",
    "numerical_rank",
    "offset_gain",
    "per_example_gradients",
    "plasticity_probe",
    "probe_loss",
    "rho_prime_autodiff",
    "rho_prime_momentum",
    "rho_prime_terms",
    "ridge_probe",
    "sensitivity_gini",
    "sign_variance",
    "srank",
    "td_interference_matrix",
    "unit_scores",
    "weight_norm",
]
