"""dm_control videos with ground-truth instance masks from the renderer (issue 22, extra `dmc`).

A uniform-random policy drives a DeepMind Control Suite task; every `action_repeat` physics steps a frame
is rendered, together with MuJoCo's segmentation render (the geom under each pixel). Each geom belongs to a
body; every body except the world (floor, rails, skybox: background 0) is one object, id = body index
(1..nbody−1), so the masks are visible instance masks (occlusion as the renderer draws it). Point tracks:
each body's centre of mass (`xipos`; a body frame such as the pole's sits at its hinge) projected through the camera matrix, (y, x) in continuous pixels (pixel i
spans [i, i+1), as in `replab.data.sprite_videos`). The first `warmup` agent steps are dropped so the
system is already moving.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from replab.errors import ReplabError, require_extra

GEOM = 5  # mujoco.mjtObj.mjOBJ_GEOM: the object type of a geom in the segmentation render


@dataclass(frozen=True)
class DMCVideos:
    frames: torch.Tensor  # (n, T, 3, H, W) float32 in [−1, 1]
    masks: torch.Tensor  # (n, T, H, W) int64: visible body id 1..K, 0 = background (world body)
    tracks: torch.Tensor  # (n, T, K, 2) float32: body centres (y, x) in pixels
    bodies: tuple[str, ...]  # names of the bodies 1..K


def make_dmc_videos(
    name: str = "cartpole-swingup",
    n: int = 4,
    seed: int = 0,
    *,
    frames: int = 12,
    size: int = 64,
    camera: int = 0,
    action_repeat: int = 4,
    warmup: int = 10,
    gl: str | None = None,
) -> DMCVideos:
    """n videos of `frames` frames (size × size) of dm_control task `name` (domain-task), episode i seeded
    with seed + i (task initialisation and the random actions). `gl`: the MuJoCo GL backend (egl, osmesa,
    glfw; default $MUJOCO_GL)."""
    from replab.envs.dmc import _gl_error, _set_gl

    domain, sep, task = name.partition("-")
    if not sep or not domain or not task:
        raise ReplabError(f"dm_control tasks are named <domain>-<task> (e.g. cartpole-swingup), got {name!r}")
    if n < 1 or frames < 1 or size < 8 or action_repeat < 1 or warmup < 0:
        raise ValueError(
            f"need n, frames, action_repeat >= 1, size >= 8, warmup >= 0; got {n}, {frames}, {action_repeat}, "
            f"{size}, {warmup}"
        )
    _set_gl(gl)
    try:
        suite = require_extra("dm_control.suite", "dmc")
        engine = require_extra("dm_control.mujoco.engine", "dmc")
    except ImportError:
        raise
    except Exception as exc:  # a GL backend that fails while dm_control imports its renderer
        raise _gl_error(exc) from exc
    video, masks, tracks, names = [], [], [], ()
    for i in range(n):
        try:
            env = suite.load(domain, task, task_kwargs={"random": seed + i})
        except ValueError as exc:
            raise ReplabError(f"unknown dm_control task {name}: {exc}") from exc
        physics, spec = env.physics, env.action_spec()
        rng = np.random.default_rng(seed + i)
        env.reset()
        body_of_geom = np.asarray(physics.model.geom_bodyid)
        k = physics.model.nbody - 1
        names = tuple(physics.model.id2name(b, "body") for b in range(1, k + 1))
        v, m, p = [], [], []
        for t in range(warmup + frames):
            if t >= warmup:
                try:
                    rgb = physics.render(size, size, camera_id=camera)
                    seg = physics.render(size, size, camera_id=camera, segmentation=True)
                    matrix = engine.Camera(physics, size, size, camera).matrix  # (3, 4) world -> image
                except Exception as exc:  # most GL backends fail only when rendering
                    raise _gl_error(exc) from exc
                ids, kinds = seg[..., 0], seg[..., 1]
                body = np.where((kinds == GEOM) & (ids >= 0), body_of_geom[np.clip(ids, 0, None)], 0)
                centres = np.asarray(physics.data.xipos[1:])  # (K, 3) centres of mass of bodies 1..K
                xs, ys, s = matrix @ np.concatenate([centres, np.ones((k, 1))], axis=1).T
                v.append(rgb.transpose(2, 0, 1))
                m.append(body)
                p.append(np.stack([ys / s, xs / s], axis=1) + 0.5)  # pixel centres at i + 0.5
            action = rng.uniform(spec.minimum, spec.maximum, spec.shape)
            for _ in range(action_repeat):
                env.step(action)
        video.append(np.stack(v))
        masks.append(np.stack(m))
        tracks.append(np.stack(p))
    return DMCVideos(
        frames=torch.from_numpy(np.stack(video).astype(np.float32) / 127.5 - 1),
        masks=torch.from_numpy(np.stack(masks).astype(np.int64)),
        tracks=torch.from_numpy(np.stack(tracks).astype(np.float32)),
        bodies=names,
    )
