"""The continuous family's claims under the shared rules (track/claims.py), on planted results (no
training): a clear effect at 5 seeds holds, no effect does not, a method below its floor is inconclusive,
fewer than 5 seeds are inconclusive; and the random-policy floor plays the final evaluation's episodes."""

import numpy as np
import pytest

from replab.experiments.continuous._curl_dmc_report import report as dmc_report
from replab.experiments.continuous._curl_pointmass_report import report as pm_report
from replab.experiments.continuous.curl_dmc import Config as DMCConfig
from replab.experiments.continuous.curl_pointmass import SMOKE as PM_SMOKE
from replab.experiments.continuous.curl_pointmass import Config as PMConfig
from replab.experiments.continuous.curl_pointmass import make_jobs as pm_jobs
from replab.experiments.continuous.curl_reward_free import report as rf_report
from replab.experiments.continuous.rad_augmentations import Config as RadConfig
from replab.experiments.continuous.rad_augmentations import report as rad_report

RNG = np.random.default_rng(0)


def noise(n: int, scale: float = 5.0) -> np.ndarray:
    return RNG.normal(0.0, scale, n)


def headline(rep, key: str):
    (c,) = [c for c in rep.checks if c.headline and c.claim["key"] == key]
    return c


# -- curl-pointmass ----------------------------------------------------------------------------------


def fake_pm(finals: dict[str, list[float]], random: list[float] | None) -> dict:
    seeds = len(next(iter(finals.values())))
    cfg = PMConfig(methods=tuple(finals), seeds=seeds)
    done = {
        f"{m}/s{i}": {"method": m, "seed": i, "final": float(v), "evals": [[20_000, [v]]], "update_ms": 1.0}
        for m, vs in finals.items()
        for i, v in enumerate(vs)
    }
    out = {"config": cfg.__dict__ | {"methods": list(finals)}, "done": done}
    if random is not None:
        out["random"] = {f"s{i}": [float(r), float(r)] for i, r in enumerate(random)}
    return out


def pm_planted(n: int, curl_gain: float, crop_gain: float, pixel_level: float = 150.0):
    pix = pixel_level + noise(n, 10)
    return fake_pm(
        {
            "state": list(800 + noise(n)),
            "pixel": list(pix),
            "curl": list(pix + curl_gain + noise(n)),
            "rad_crop": list(pix + crop_gain + noise(n)),
            "rad_translate": list(pix + noise(n)),
        },
        random=list(30 + noise(n, 2)),
    )


def test_pointmass_planted_effects_hold_at_five_seeds():
    rep = pm_report(pm_planted(5, curl_gain=200, crop_gain=150))
    assert headline(rep, "curl_vs_pixel").verdict == "held"
    assert headline(rep, "crop_vs_pixel").verdict == "held"
    assert [r["key"] for r in rep.claim_records()] == ["curl_vs_pixel", "crop_vs_pixel"]
    assert rep.stored_summary()["curl_vs_pixel/verdict"] == 1.0
    budget = [c for c in rep.checks if c.name.startswith("Pixel SAC beats the random policy")]
    assert [c.verdict for c in budget] == ["held"]


def test_pointmass_no_effect_does_not_hold_and_a_small_one_is_not_a_win():
    rep = pm_report(pm_planted(5, curl_gain=0, crop_gain=20))  # crop +20 < the registered 50
    assert headline(rep, "curl_vs_pixel").verdict == "did not hold"
    assert headline(rep, "crop_vs_pixel").verdict == "did not hold"
    assert rep.verdict == "did not hold"


def test_pointmass_below_the_random_policy_is_inconclusive_and_said_so():
    # CURL far above pixel SAC, but both below the random policy (issue 19's 5-seed DEFAULT run)
    res = pm_planted(5, curl_gain=200, crop_gain=200, pixel_level=-300)
    rep = pm_report(res)
    c = headline(rep, "curl_vs_pixel")
    assert c.verdict == "inconclusive" and "did not beat the floor" in c.measured
    assert rep.verdict == "inconclusive"
    floor_text = dict(rep.sections)["Against the floor: the uniform-random policy on the same episodes"]
    assert "At or below the random policy at this budget: Pixel SAC" in floor_text
    (budget,) = [c for c in rep.checks if c.name.startswith("Pixel SAC beats the random policy")]
    assert budget.verdict == "did not hold"


def test_pointmass_fewer_than_five_seeds_is_inconclusive():
    rep = pm_report(pm_planted(3, curl_gain=200, crop_gain=200))
    assert headline(rep, "curl_vs_pixel").verdict == "inconclusive"
    assert headline(rep, "crop_vs_pixel").verdict == "inconclusive"
    assert "95% CI of IQM" not in rep.sections[0][1]  # no interval over a handful of per-method values


def test_pointmass_results_without_a_floor_or_a_method_decide_nothing():
    res = pm_planted(5, curl_gain=200, crop_gain=200)
    del res["random"]  # a run from before the floor was measured
    rep = pm_report(res)
    assert all(c.verdict == "inconclusive" for c in rep.checks) and rep.claim_records() == []
    assert rep.verdict == "inconclusive"
    only = pm_report(fake_pm({"curl": [5.0] * 5}, random=[30.0] * 5))  # e.g. --methods curl
    assert [c for c in only.checks if c.headline] == [] and only.summary["floor_margin/curl"] == -25.0


def test_pointmass_floor_plays_the_final_evaluations_episodes():
    from replab.envs import make
    from replab.experiments.continuous._parts import evaluations, final_eval_seed, random_policy_job
    from replab.rl.evaluate import random_policy_scores

    for steps, every in [(5000, 2500), (5000, 0), (5000, 3000), (7, 7)]:
        brute = sum(bool((every and t % every == 0) or t == steps) for t in range(1, steps + 1))
        assert evaluations({"agent_steps": steps, "eval_every": every}) == brute  # rl/loop.train's rule
    job = pm_jobs(PM_SMOKE, run_seed=3)[0]
    pixels = make("pointmass", **dict(job["env_kwargs"], size=job["crop"]))  # what the agent is scored on
    expected = random_policy_scores(pixels, job["eval_episodes"], final_eval_seed(job))
    assert random_policy_job(job) == expected  # same starts and goals, rendered or not
    assert final_eval_seed(job) == job["env_seed"] + 10_000 + 1


# -- rad-augmentations ---------------------------------------------------------------------------------


def fake_rad(finals: dict[str, list[float]], random: list[float]) -> dict:
    augs = [s for s in finals if "-" not in s and s != "none"]
    done = {
        f"{s}/s{i}": {"spec": s, "seed": i, "final": float(v)}
        for s, vs in finals.items()
        for i, v in enumerate(vs)
    }
    cfg = RadConfig(augs=tuple(augs))
    return {"config": cfg.__dict__ | {"augs": augs}, "done": done, "random": random}


def rad_planted(n: int, crop_level: float, other_level: float = 100.0) -> dict:
    return fake_rad(
        {
            "crop": list(crop_level + noise(n)),
            "translate": list(crop_level - 40 + noise(n)),
            "flip": list(other_level + noise(n)),
            "color_jitter": list(other_level - 10 + noise(n)),
        },
        random=[30.0, 34.0],
    )


def test_rad_planted_effect_holds_and_no_effect_does_not():
    rep = rad_report(rad_planted(5, crop_level=300))
    assert headline(rep, "geometric_best").verdict == "held" and rep.verdict == "held"
    tie = rad_report(rad_planted(5, crop_level=100))  # the best of crop/translate ≈ the best other
    assert headline(tie, "geometric_best").verdict == "did not hold"


def test_rad_below_the_random_policy_or_few_seeds_is_inconclusive():
    low = rad_report(rad_planted(5, crop_level=-100, other_level=-300))
    c = headline(low, "geometric_best")
    assert c.verdict == "inconclusive" and "did not beat the floor" in c.measured
    few = rad_report(rad_planted(2, crop_level=300))  # the DEFAULT's 2 seeds in one run
    assert headline(few, "geometric_best").verdict == "inconclusive"


def test_rad_further_checks_need_their_arms():
    res = rad_planted(5, crop_level=300)
    assert [c.name for c in rad_report(res).checks if not c.headline] == []
    finals = {r["spec"]: [] for r in res["done"].values()}
    for r in res["done"].values():
        finals[r["spec"]].append(r["final"])
    finals |= {
        "none": list(100 + noise(5)),
        "crop-flip": list(250 + noise(5)),
        "flip-color_jitter": [90.0] * 5,
    }
    rep = rad_report(fake_rad(finals, random=[30.0]))
    by_key = {c.name.split(" ")[0]: c.verdict for c in rep.checks if not c.headline}
    assert by_key == {"crop": "held", "pairs": "held"}
    from replab.experiments.continuous._parts import resolve

    none_job = {"method": "pixel", "size": 38, "crop": 32}  # the --none-arm cell: Pixel SAC, no augmentation
    assert resolve(none_job) == ("pixels", 32, None, None, False)


# -- curl-reward-free ------------------------------------------------------------------------------------


def fake_rf(n: int, curl: float, random: float, velocity: float = 0.5, single_velocity: float = 0.0) -> dict:
    r2 = {}
    for s in range(n):
        e = noise(4, 0.01)
        r2[f"curl_stack/s{s}"] = {"position": curl + e[0], "velocity": velocity + e[1], "goal": curl}
        r2[f"curl_single/s{s}"] = {"position": curl, "velocity": single_velocity + e[2], "goal": curl}
        r2[f"random_stack/s{s}"] = {"position": random + e[3], "velocity": 0.0, "goal": random}
        r2[f"supervised_stack/s{s}"] = {"position": 0.9, "velocity": 0.9, "goal": 0.9}
    return {"config": {"ridge": 0.01, "stacks": 10, "steps": 1, "seeds": n, "min_effect": 0.1}, "r2": r2}


def test_reward_free_planted_effect_holds_and_no_effect_does_not():
    rep = rf_report(fake_rf(5, curl=0.6, random=0.1))
    assert headline(rep, "curl_vs_random").verdict == "held" and rep.verdict == "held"
    none = rf_report(fake_rf(5, curl=0.12, random=0.1, velocity=0.05))  # +0.02 R² < 0.1
    assert headline(none, "curl_vs_random").verdict == "did not hold"
    (vel,) = [c for c in none.checks if not c.headline]
    assert vel.verdict == "did not hold"


def test_reward_free_velocity_below_its_floor_and_few_seeds_are_inconclusive():
    # stacked CURL 0.3 R² above the single-frame encoder on velocity, but below the random encoder's
    res = fake_rf(5, curl=0.6, random=0.1, velocity=-0.5, single_velocity=-0.8)
    (vel,) = [c for c in rf_report(res).checks if not c.headline]
    assert vel.verdict == "inconclusive" and "did not beat the floor" in vel.measured
    few = rf_report(fake_rf(2, curl=0.6, random=0.1))  # the DEFAULT's 2 seeds
    assert headline(few, "curl_vs_random").verdict == "inconclusive" and few.verdict == "inconclusive"


# -- curl-dmc --------------------------------------------------------------------------------------------


def fake_dmc(vals: dict, floor: dict | None, tasks, budget: int = 20_000) -> dict:
    cfg = DMCConfig(tasks=tuple(tasks), methods=("pixel", "curl", "rad"))
    done = {
        f"{t}/{m}/s{i}": {
            "method": m,
            "task": t,
            "seed": i,
            "final": float(v),
            "evals": [[budget, [float(v)]]],
            "update_ms": 1.0,
        }
        for (m, t), vs in vals.items()
        for i, v in enumerate(vs)
    }
    out = {"config": cfg.__dict__ | {"tasks": list(tasks), "methods": list(cfg.methods)}, "done": done}
    if floor is not None:
        out["random"] = {f"{t}/s{i}": [float(f)] for t, fs in floor.items() for i, f in enumerate(fs)}
    return out


def dmc_planted(n: int, curl_gain: float, rad_gain: float, pixel_level: float = 200.0, tasks=None, **kw):
    tasks = tasks or ["cartpole-swingup", "walker-walk"]
    vals = {}
    for t in tasks:
        pix = pixel_level + noise(n, 10)
        vals |= {
            ("pixel", t): pix,
            ("curl", t): pix + curl_gain + noise(n),
            ("rad", t): pix + rad_gain + noise(n),
        }
    return fake_dmc(vals, {t: 30 + noise(n, 2) for t in tasks}, tasks, **kw)


def test_dmc_planted_effect_holds_per_task_and_no_effect_does_not():
    rep = dmc_report(dmc_planted(5, curl_gain=200, rad_gain=0))
    assert headline(rep, "curl_vs_pixel").verdict == "held"
    assert headline(rep, "rad_vs_pixel").verdict == "did not hold"
    per_task = {c.name: c.verdict for c in rep.checks if not c.headline}
    assert len(per_task) == 4 and sum(v == "held" for v in per_task.values()) == 2
    assert "cartpole-swingup 582 vs 200" in headline(rep, "curl_vs_pixel").claim["paper"]
    assert "582 ± 146" in rep.sections[0][1]  # the published number beside the measured one


def test_dmc_below_the_floor_and_few_seeds_are_inconclusive():
    low = dmc_report(dmc_planted(5, curl_gain=200, rad_gain=200, pixel_level=-400))
    assert {headline(low, k).verdict for k in ("curl_vs_pixel", "rad_vs_pixel")} == {"inconclusive"}
    few = dmc_report(dmc_planted(1, curl_gain=200, rad_gain=200))  # the DEFAULT's one seed
    assert headline(few, "curl_vs_pixel").verdict == "inconclusive" and few.verdict == "inconclusive"


def test_dmc_published_budget_check():
    rep = dmc_report(dmc_planted(5, curl_gain=400, rad_gain=-150, tasks=["cartpole-swingup"], budget=100_000))
    reach = {c.name.split(" at ")[0]: c.verdict for c in rep.checks if "published" in c.name}
    assert reach == {"CURL": "held", "RAD": "did not hold"}  # CURL ≈ 600 > 582 − 2·146; RAD ≈ 50 < 828 − 2·27
    small = dmc_report(dmc_planted(5, curl_gain=400, rad_gain=0, budget=5_000))
    assert not [c for c in small.checks if "published" in c.name]
    assert "not comparable" in "\n".join(body for _, body in small.sections)


def test_dmc_floor_is_the_state_env_on_the_final_evaluations_episodes():
    pytest.importorskip("dm_control")
    from replab.experiments.continuous._parts import final_eval_seed, random_policy_job
    from replab.experiments.continuous.curl_dmc import SMOKE, make_jobs

    job = make_jobs(SMOKE, run_seed=0)[0]
    scores = random_policy_job(job)  # state observations: nothing rendered
    assert len(scores) == SMOKE.eval_episodes and all(np.isfinite(scores))
    assert scores == random_policy_job(job) and final_eval_seed(job) == job["env_seed"] + 10_001
