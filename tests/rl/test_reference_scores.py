"""The shipped Atari100k reference table reproduces the thesis's derived claims (seed001 §2.5), and
the experiments pair both methods of a seed on one env seed and one initial Q-network."""

import pytest

from replab.envs.atari_scores import ATARI100K_GAMES, CURL_COEF_0_05, SCORES, hns, hns_summary


def test_thesis_hns_medians_and_means():
    med, mean = hns_summary("curl")
    assert round(100 * med, 1) == 17.5 and round(100 * mean, 1) == 38.1
    med, mean = hns_summary("eff_rainbow")
    assert round(100 * med, 1) == 16.1 and round(100 * mean, 1) == 28.5
    assert hns("Jamesbond", SCORES["Jamesbond"]["curl"]) == pytest.approx(1.6, abs=0.05)
    assert hns("Krull", SCORES["Krull"]["curl"]) == pytest.approx(2.5, abs=0.05)


def test_curl_beats_eff_rainbow_on_18_games_not_19():
    better = [g for g in ATARI100K_GAMES if SCORES[g]["curl"] > SCORES[g]["eff_rainbow"]]
    assert len(ATARI100K_GAMES) == 26 and len(better) == 18
    assert set(CURL_COEF_0_05) <= set(ATARI100K_GAMES)


def test_jobs_are_paired_across_methods():
    from replab.experiments.discrete import atari100k, curl_minatar

    for module in (curl_minatar, atari100k):
        jobs = module.make_jobs(module.DEFAULT, run_seed=3)
        by = {(j["game"], j["seed_index"], j["method"]): j for j in jobs}
        for (game, seed, method), j in by.items():
            other = by[(game, seed, "rainbow" if method == "curl" else "curl")]
            assert (j["env_seed"], j["init_seed"]) == (other["env_seed"], other["init_seed"])
        assert len({j["env_seed"] for j in jobs}) == len(jobs) // 2
    pong = [
        j for j in atari100k.make_jobs(atari100k.Config(games=("Pong", "Alien")), 0) if j["method"] == "curl"
    ]
    assert [j["curl_coef"] for j in pong] == [0.05, 1.0]  # the thesis's per-game coefficient
    assert [j["train_env_kwargs"]["terminal_on_life_loss"] for j in pong] == [True, True]
    assert [j["eval_env_kwargs"]["terminal_on_life_loss"] for j in pong] == [False, False]
