"""The atari-curricula report on planted MinAtar and ALE results: the main-effect and interaction contrasts
equal their hand computation, the ANOVA finds the planted effects, and pure-noise factors do not hold."""

import dataclasses
import math

import numpy as np
import pytest

pytest.importorskip("statsmodels")

from replab.envs.minatar_variants import FACTORS, factorial  # noqa: E402
from replab.experiments.discrete._atari_curricula_report import decisions, minatar_frames, report  # noqa: E402
from replab.experiments.discrete.atari_curricula import Config  # noqa: E402

VARIANTS = factorial("space_invaders")


def score(lv, rng):
    """enemy_shot_interval 5 halves the score, shot_cool_down 10 takes a third off; they interact; noise."""
    s = (
        40.0
        * (0.5 if lv["enemy_shot_interval"] == 5 else 1.0)
        * (2 / 3 if lv["shot_cool_down"] == 10 else 1.0)
    )
    if lv["enemy_shot_interval"] == 5 and lv["shot_cool_down"] == 10:
        s *= 1.5  # the planted interaction: the two difficulties compound less than multiplicatively
    return s * math.exp(0.02 * rng.standard_normal())


def planted(seeds=6):
    rng = np.random.default_rng(0)
    done = {}
    for s in range(seeds):
        finals = [score(lv, rng) for lv in VARIANTS]
        for v in range(len(VARIANTS)):
            r = {"part": "minatar", "variant": v, "seed": s, "final": finals[v], "random": 1.0,
                 "evals": [[10_000, [finals[v] / 2]], [30_000, [finals[v]]]]}  # fmt: skip
            if v == 0:
                r["zero_shot"] = {str(u): finals[u] * 0.8 for u in range(8)}
                r["finetuned"] = {str(u): finals[u] * 0.9 for u in range(1, 8)}
            done[f"minatar/v{v}/s{s}"] = r
    rows = [{"mode": m, "difficulty": d, "episode": e, "score": 10.0 + 3 * m + 5 * d + rng.standard_normal()}
            for m in range(4) for d in range(2) for e in range(4)]  # fmt: skip
    done["ale/freeway/heuristic"] = {"part": "ale", "game": "freeway", "policy": "heuristic", "rows": rows}
    cfg = dataclasses.asdict(Config())
    cfg |= {"factors": {k: list(v) for k, v in FACTORS["space_invaders"].items()}, "variants": VARIANTS,
            "interaction": list(cfg["interaction"]), "finetune_steps": 10_000}  # fmt: skip
    return {"config": cfg, "done": done}


def test_planted_effects_are_decided_and_recovered():
    res = planted()
    fr = minatar_frames(res)
    d = {x.key: x for x in decisions(res, fr)}
    # enemy_shot_interval: mean log(1 + score) of its level-0 cells minus its level-1 cells (noise ≈ 2%)
    want = (math.log1p(40.0) + math.log1p(40.0 * 2 / 3)) / 2 - math.log1p(20.0)
    assert d["main/enemy_shot_interval"].effect == pytest.approx(want, abs=0.1)
    assert d["main/enemy_shot_interval"].verdict == "held"
    assert d["main/enemy_move_interval"].verdict == "did not hold"  # planted: no effect
    y = {(a, b): math.log1p(40.0 * (0.5 if a else 1) * (2 / 3 if b else 1) * (1.5 if a and b else 1))
         for a in (0, 1) for b in (0, 1)}  # fmt: skip
    assert d["interaction"].effect == pytest.approx(y[1, 1] - y[1, 0] - y[0, 1] + y[0, 0], abs=0.05)
    assert d["interaction"].verdict == "held"
    assert d["transfer"].verdict == "held"  # finetuned 0.9 × final vs scratch at 10k steps 0.5 × final
    assert d["zero_shot"].verdict == "held"  # 0.8 × final ≫ the random policy's 1
    rep = report(res)
    checks = {c.name.split(":")[0]: c for c in rep.checks}
    assert checks["ALE freeway"].held is True  # planted mode and difficulty effects
    assert checks["MinAtar scratch"].held is True
    assert any("interaction_scratch" == f.name for f in rep.figures)


def test_space_invaders_mode_bits_five_way_anova():
    from replab.experiments.discrete._atari_curricula_report import mode_bits
    from replab.track.anova import factorial_anova

    rng = np.random.default_rng(1)
    # planted: option bit 2 (fast bombs, say) lowers the score, difficulty raises it; 2 episodes per cell
    rows = [{"mode": m, "difficulty": d, "episode": e,
             "score": 100.0 - 30 * ((m >> 2) & 1) + 10 * d + rng.standard_normal()}
            for m in range(16) for d in range(2) for e in range(2)]  # fmt: skip
    cols = mode_bits(rows)
    assert (
        cols["mode_bit2"][:16] == [0] * 16 and cols["mode_bit0"][:8] == [0] * 4 + [1] * 4
    )  # 4 rows per mode
    t = factorial_anova(cols, "score", ["mode_bit0", "mode_bit1", "mode_bit2", "mode_bit3", "difficulty"])
    assert {x.name for x in t.significant(1e-6)} == {"mode_bit2", "difficulty"}
