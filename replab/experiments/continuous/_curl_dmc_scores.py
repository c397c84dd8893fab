"""Published DMControl scores (mean, std over 10 seeds) beside which curl-dmc puts its measurements.

Sources, quoted as printed (seed001 §2.5 and §3.5): CURL = Srinivas thesis 2021 Table 3.1 (CURL paper,
Laskin, Srinivas & Abbeel 2020, Table 1); RAD = Table 4.1 (Laskin et al. 2020, Table 1). State SAC is the
same in both; Pixel SAC is RAD's Table 4.1 column, because Table 3.1's 100k Pixel SAC entries repeat its
500k ones (seed001 §2.5 [!]). Budgets count env steps (DMControl100k / 500k).
"""

from __future__ import annotations

TASKS = ("finger-spin", "cartpole-swingup", "reacher-easy", "cheetah-run", "walker-walk", "ball_in_cup-catch")
SOURCE = {
    "curl": "Srinivas 2021 thesis Table 3.1 (CURL)",
    "rad": "Srinivas 2021 thesis Table 4.1 (RAD)",
    "pixel": "Srinivas 2021 thesis Table 4.1 (Pixel SAC column)",
    "state": "Srinivas 2021 thesis Table 3.1 (State SAC)",
}

# {budget: {method: {task: (mean, std)}}}, order of TASKS
_ROWS = {
    500_000: {
        "curl": [(926, 45), (841, 45), (929, 44), (518, 28), (902, 43), (959, 27)],
        "rad": [(947, 101), (863, 9), (955, 71), (728, 71), (918, 16), (974, 12)],
        "pixel": [(192, 166), (419, 40), (145, 30), (197, 15), (42, 12), (312, 63)],
        "state": [(923, 21), (848, 15), (923, 24), (795, 30), (948, 54), (974, 33)],
    },
    100_000: {
        "curl": [(767, 56), (582, 146), (538, 233), (299, 48), (403, 24), (769, 43)],
        "rad": [(856, 73), (828, 27), (826, 219), (447, 88), (504, 191), (840, 179)],
        "pixel": [(224, 101), (200, 72), (136, 15), (130, 12), (127, 24), (97, 27)],
        "state": [(811, 46), (835, 22), (746, 25), (616, 18), (891, 82), (746, 91)],
    },
}
PUBLISHED: dict[int, dict[str, dict[str, tuple[float, float]]]] = {
    budget: {m: dict(zip(TASKS, rows)) for m, rows in methods.items()} for budget, methods in _ROWS.items()
}


def published(method: str, task: str, budget: int) -> tuple[float, float] | None:
    """(mean, std) of `method` on `task` at `budget` env steps, or None when not published."""
    return PUBLISHED.get(budget, {}).get(method, {}).get(task)
