"""Representation diagnostics: functions of activations, weights, or a model plus data (DESIGN §2).

They never change the model (train/eval mode restored, no optimizer state touched).
"""

from replab.probe.layers import LayerProbe
from replab.probe.linear import linear_probe
from replab.probe.monitor import Monitor
from replab.probe.rank import covariance_spectrum, numerical_rank, srank
from replab.probe.units import dormant_fraction, feature_norm, unit_scores

__all__ = [
    "LayerProbe",
    "Monitor",
    "covariance_spectrum",
    "dormant_fraction",
    "feature_norm",
    "linear_probe",
    "numerical_rank",
    "srank",
    "unit_scores",
]
