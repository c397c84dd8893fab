"""Issue 18 §4: checkpoints are loaded with weights_only=True; a pickled object is refused with a clear
one-line error, a damaged file too; plain states (tensors, numbers, numpy arrays, containers) round-trip,
and saving anything else fails at once, naming the part of the state."""

import dataclasses
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

from replab.track import checkpoint
from replab.track.checkpoint import CheckpointError


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_plain_states_round_trip(tmp_path):
    state = {
        "model": OrderedDict(w=torch.randn(3, 2)),
        "gen": torch.Generator().get_state(),
        "done": {"a/1": {"acc": 0.5, "curve": [1, 2.5, float("nan")]}, 3: (1, "x", None, True)},
        "np": {
            "f": np.float32(1.5),
            "i": np.int64(7),
            "a": np.arange(4.0),
            "s": np.array(["u"]),
            "b": np.bool_(1),
        },
        "set": {1, 2},
        "size": torch.Size([2, 3]),
    }
    path = tmp_path / "checkpoint.pt"
    checkpoint.save(state, path)
    got = checkpoint.load(path)
    assert torch.equal(got["model"]["w"], state["model"]["w"]) and got["done"][3] == (1, "x", None, True)
    assert got["np"]["f"] == np.float32(1.5) and np.array_equal(got["np"]["a"], np.arange(4.0))
    assert got["set"] == {1, 2} and got["size"] == torch.Size([2, 3])
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pickled_object_is_refused_and_never_run(tmp_path, capsys):
    path = tmp_path / "checkpoint.pt"
    torch.save({"step": 3, "payload": Evil()}, path)  # what a hostile run folder could hold
    with pytest.raises(CheckpointError) as err:
        checkpoint.load(path, "victim")
    message = str(err.value)
    assert "holds a pickled object (print)" in message and "refused" in message
    assert "'replab run --resume victim'" in message and "\n" not in message
    assert "pwned" not in capsys.readouterr().out
    path.write_bytes(pickle.dumps({"a": np.array([object()], dtype=object)}))  # plain pickle, object array
    with pytest.raises(CheckpointError, match="refused|damaged"):
        checkpoint.load(path)


def test_a_truncated_checkpoint_is_damaged(tmp_path):
    path = tmp_path / "checkpoint.pt"
    checkpoint.save({"w": torch.randn(100)}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"checkpoint .* is damaged \(.*\): delete it to restart"):
        checkpoint.load(path)


@dataclasses.dataclass
class Point:
    x: int = 1


@pytest.mark.parametrize(
    "state, where",
    [
        ({"p": Point()}, "state['p']"),
        ({"a": [1, {"fn": len}]}, "state['a'][1]['fn']"),
        ({"o": np.array([None], dtype=object)}, "state['o']"),
        ({"r": range(3)}, "state['r']"),
    ],
)
def test_saving_a_non_plain_state_fails_at_once(tmp_path, state, where):
    with pytest.raises(TypeError, match=f"checkpoint {where.replace('[', '.').replace(']', '.')} is a"):
        checkpoint.save(state, tmp_path / "checkpoint.pt")
    assert not list(tmp_path.iterdir())
