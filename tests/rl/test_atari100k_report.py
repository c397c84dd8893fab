"""The atari100k report on hand-made results: thesis columns beside ours, HNS values, the frame note."""

import pytest

from replab.envs.atari_scores import SCORES
from replab.experiments.discrete import atari100k
from replab.experiments.discrete._atari100k_report import report


def _results(steps: int, max_frames: int = 108_000) -> dict:
    cfg = atari100k.Config(games=("Pong", "Breakout"), seeds=2, agent_steps=steps, max_frames=max_frames)
    finals = {  # (game, method) -> final score per seed
        ("Pong", "rainbow"): [-20.7, -16.7],  # mean -18.7: HNS (−18.7 + 20.7) / 35.3
        ("Pong", "curl"): [14.6, 14.6],  # human score: HNS 1
        ("Breakout", "rainbow"): [30.5, 30.5],  # HNS 1
        ("Breakout", "curl"): [1.7, 1.7],  # random: HNS 0
    }
    counters = dict(
        agent_steps=steps, env_steps=4 * steps, frames=4 * steps, updates=steps, episodes=3, games=1
    )
    done = {
        f"{g}/{m}/s{s}": dict(
            game=g, method=m, seed=s, final=x, evals=[[steps // 2, [x]], [steps, [x]]], counters=counters,
            seconds=1.0, cpu_seconds=1.0, replay="-", update_ms=1.0, act_env_ms=1.0,
        )
        for (g, m), xs in finals.items()
        for s, x in enumerate(xs)
    }  # fmt: skip
    return {"config": cfg.__dict__ | {"games": list(cfg.games), "methods": list(cfg.methods)}, "done": done}


def test_report_puts_ours_beside_the_thesis_with_hns():
    rep = report(_results(100_000))
    text = "\n".join(body for _, body in rep.sections)
    assert "100k agent steps = 400k frames" in text and "100,000 agent steps = 400,000 frames" in text
    pong = next(line for line in text.splitlines() if line.startswith("| Pong |"))
    ref = SCORES["Pong"]
    for v in (ref["random"], ref["human"], ref["eff_rainbow"], ref["curl"]):
        assert str(v) in pong
    assert rep.summary["Pong/rainbow_hns"] == pytest.approx(2.0 / 35.3)
    assert rep.summary["Pong/curl_hns"] == pytest.approx(1.0)
    assert rep.summary["Breakout/curl_hns"] == pytest.approx(0.0)
    assert rep.summary["median_hns/curl"] == pytest.approx(0.5)
    assert rep.summary["curl_wins"] == 1.0  # Pong yes, Breakout no (descriptive, not a check)
    # 2 seeds: the paired rule decides nothing (it needs 5), whatever the games say
    headline = [c for c in rep.checks if c.headline]
    assert len(headline) == 1 and headline[0].held is None and headline[0].n == 2
    assert "2 seed(s) < 5" in headline[0].measured
    # the mean paired HNS difference over (seed, game): Pong 1 − 2/35.3, Breakout −1
    assert headline[0].effect == pytest.approx(((1 - 2.0 / 35.3) + (0 - 1)) / 2)
    published = rep.checks[-1]
    assert published.name.startswith("at 100k agent steps") and published.rule and published.held is None
    assert {f.name for f in rep.figures} == {"hns", "curves"}


def test_short_or_capped_runs_do_not_decide_the_published_check():
    short = report(_results(10_000)).checks[-1]
    assert short.held is None and not short.rule and "not decided" in short.measured
    capped = report(_results(100_000, max_frames=600))
    assert capped.checks[-1].held is None and not capped.checks[-1].rule
    assert "not comparable" in "\n".join(body for _, body in capped.sections)
