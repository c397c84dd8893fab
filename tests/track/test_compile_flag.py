"""Issue 27: `--compile` hands the networks an experiment passes to `run.compiled` to torch.compile."""

import json

import torch

from replab.execution import record_execution, same_execution
from replab.track.run import Run
from replab.track.store import Store


def test_run_compiled_is_the_module_itself_without_the_flag_and_a_compiled_twin_with_it(tmp_path):
    store = Store(tmp_path / "replab.db")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    x = torch.randn(5, 6)
    plain = Run(store, "plain", seed=0, quiet=True, tensorboard=False)
    assert plain.compiled(net) is net and plain.compiled_modules == []
    run = Run(store, "compiled", seed=0, quiet=True, tensorboard=False, compile=True)
    fast = run.compiled(net)
    assert fast is not net and run.compiled_modules == ["Sequential"]
    assert {id(p) for p in fast.parameters()} == {id(p) for p in net.parameters()}  # one set of weights
    with torch.no_grad():  # a different computation (generated kernels): compared with a tolerance
        torch.testing.assert_close(fast(x), net(x), rtol=1e-5, atol=1e-6)
    record_execution(tmp_path, "cpu", False, True, run.compiled_modules)
    e = json.loads((tmp_path / "execution.json").read_text())
    assert e["compile"] is True and e["compiled"] == ["Sequential"]


def test_a_run_resumes_only_with_the_device_precision_and_compilation_it_started_with(tmp_path):
    import pytest

    from replab.errors import ReplabError

    same_execution(tmp_path, "r1", "cpu", False, False)  # no record yet (a run from before --amp): fine
    record_execution(tmp_path, "cpu", True, False)
    same_execution(tmp_path, "r1", "cpu", True, False)
    with pytest.raises(
        ReplabError, match="started with --device cpu --amp .* resume it with --device cpu --amp"
    ):
        same_execution(tmp_path, "r1", "cpu", False, False)
    with pytest.raises(ReplabError, match="--compile"):
        same_execution(tmp_path, "r1", "cpu", True, True)
