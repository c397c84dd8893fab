"""The RIN experiments' shared sampling with read attention, their time checks, a caller's Monitor in
`train_rin`, and the attention maps every report draws (also from results stored before the maps existed)."""

import dataclasses

import pytest
import torch

from replab import seeding
from replab.diffusion import make_schedule, sample
from replab.experiments.diffusion import _figures
from replab.experiments.diffusion import rin_adaptive_computation as adaptive
from replab.experiments.diffusion import rin_self_conditioning as self_cond
from replab.experiments.diffusion import rin_video_prediction as video
from replab.experiments.diffusion._config import train_rin
from replab.experiments.diffusion._reads import image_maps, sample_with_reads
from replab.nn.rin import RIN


def tiny_rin():
    torch.manual_seed(0)
    return RIN(image_size=8, channels=1, patch=2, dim_x=16, dim_z=32, num_latents=4, blocks=2, depth=1, heads=4,
               num_classes=10)  # fmt: skip


class StubRun:
    """What `train_rin` reads of a run: device, seed, named generators, `compiled`, `log`."""

    device, seed = "cpu", 0

    def __init__(self):
        self.logged = []

    def generator(self, name, device=None):
        return seeding.generator(self.seed, name, device or "cpu")

    def compiled(self, module):
        return module

    def log(self, metrics, step):
        self.logged.append((step, dict(metrics)))


class StubBar:
    def __init__(self):
        self.shown = []

    def advance(self, n=1, **metrics):
        self.shown.append((n, metrics))


def test_sample_draws_on_the_models_device_by_default():
    """device=None samples where the model lives (here the CPU): the same chain as naming the device."""
    model = tiny_rin().eval()
    kw = dict(gamma=make_schedule("cosine"), steps=5, y=torch.arange(3))
    a = sample(model, 3, generator=torch.Generator().manual_seed(1), **kw)
    b = sample(model, 3, generator=torch.Generator().manual_seed(1), device="cpu", **kw)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_sample_with_reads_gives_distributions_over_the_patches():
    model = tiny_rin().eval()
    cfg = dataclasses.replace(self_cond.SMOKE, num_latents=4, sample_steps=10)
    x, reads = sample_with_reads(
        cfg,
        model,
        3,
        torch.Generator().manual_seed(0),
        (1.0, 0.5, 0.1),
        self_condition=True,
        y=torch.arange(3),
    )
    assert x.shape == (3, 1, 8, 8) and x.device.type == "cpu"
    assert sorted(reads) == [0.1, 0.5, 1.0]
    for w in reads.values():  # (blocks, n, tokens): each read row is a softmax over the 16 patches
        assert w.shape == (2, 3, 16) and w.device.type == "cpu"
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 3), atol=1e-5, rtol=0)
    assert not model.capture_read  # switched off again
    maps = image_maps(reads, side=4, k=2)
    assert set(maps) == {"1.0", "0.5", "0.1"} and torch.tensor(maps["0.1"]).shape == (2, 4, 4)


@pytest.mark.parametrize(
    "module,changes,match",
    [
        (adaptive, dict(times=(0.1, 1.0)), "decreasing"),
        (adaptive, dict(times=(1.0,)), "decreasing"),
        (adaptive, dict(times=(1.0, 0.99), sample_steps=10), "share sampling steps"),
        (video, dict(times=(1.0, 0.4, 0.1)), "two values"),
        (self_cond, dict(image_size=4, patch=1), "image_size must be >= 8"),
    ],
)
def test_bad_times_and_sizes_are_refused_up_front(module, changes, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(module.SMOKE, **changes)


def test_train_rin_steps_a_callers_monitor():
    class CountingMonitor:
        def __init__(self):
            self.steps = []

        def step(self, step):
            self.steps.append(step)

    cfg = dataclasses.replace(self_cond.SMOKE, steps=4)
    x, y = torch.rand(32, 1, 8, 8) * 2 - 1, torch.arange(32) % 10
    monitor, run = CountingMonitor(), StubRun()
    _, info = train_rin(
        cfg, run, "m/0", tiny_rin(), x, y, rate=0.9, steps=4, bar=StubBar(), shown={}, monitor=monitor
    )
    assert monitor.steps == [1, 2, 3, 4] and info["steps"] == 4
    assert not any(k.startswith("probe/") for _, m in run.logged for k in m)  # no second, built-in monitor


def test_digits_reports_draw_attention_maps_when_stored():
    unit = {
        "attention": {
            "maps": {"1.0": [[[0.1] * 4] * 4] * 2, "0.1": [[[0.2] * 4] * 4] * 2},
            "grid": [[[[0.0] * 8] * 8]] * 2,
        }
    }
    fig = _figures.model_attention({"self-cond": unit, "rate 0": unit})
    assert fig is not None and fig.name == "attention"
    assert len(fig.figure.axes) == 4 * 3  # 2 models × 2 samples, one image + 2 times each
    assert _figures.model_attention({"self-cond": {"grid": []}}) is None  # results from before the maps
