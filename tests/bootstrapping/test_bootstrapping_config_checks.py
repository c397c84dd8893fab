"""Config checks of td-gain and corrected-momentum that refuse a run before its store row exists."""

import dataclasses
import sys

import pytest

from replab.errors import MissingExtraError
from replab.experiments.bootstrapping import corrected_momentum as cm
from replab.experiments.bootstrapping import td_gain as tg


def test_ends_needs_two_corrected_layers():
    """At k = 1 'ends' corrects ⌈1/2⌉ = 1 bottom and ⌊1/2⌋ = 0 top layers: the arm 'bottom'."""
    assert cm.corrected_layer_set("ends", 1, 6) == cm.corrected_layer_set("bottom", 1, 6)
    with pytest.raises(ValueError, match="corrected_layers must be >= 2 when 'ends' is among the methods"):
        dataclasses.replace(cm.DEFAULT, setting="per-layer", corrected_layers=1)  # the setting's methods
    with pytest.raises(ValueError, match="got 1"):
        dataclasses.replace(cm.DEFAULT, setting="per-layer", methods=("bottom", "ends"), corrected_layers=1)
    ok = dataclasses.replace(cm.DEFAULT, setting="per-layer", methods=("bottom", "top"), corrected_layers=1)
    assert ok.corrected_layers == 1
    assert dataclasses.replace(cm.DEFAULT, setting="per-layer", corrected_layers=2).corrected_layers == 2


def test_preset_methods_are_the_seven_named():
    assert cm.PRESET_METHODS == (
        "sgd", "momentum", "corrected", "corrected_diag", "oracle", "adam", "adaptive_diag"
    )  # fmt: skip
    assert set(cm.PRESET_METHODS) <= set(cm.METHODS) and cm.SMOKE.methods == cm.PRESET_METHODS


def test_minatar_without_the_package_is_refused_at_config_time(monkeypatch):
    monkeypatch.setitem(sys.modules, "minatar", None)  # `import minatar` now raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'replab\[minatar\]'"):
        dataclasses.replace(cm.DEFAULT, setting="minatar")
    with pytest.raises(MissingExtraError, match=r"pip install 'replab\[minatar\]'"):
        dataclasses.replace(tg.SMOKE, task="minatar")
    assert dataclasses.replace(cm.DEFAULT, setting="replay").setting == "replay"  # other settings need none
    assert dataclasses.replace(tg.SMOKE, task="cartpole").task == "cartpole"
