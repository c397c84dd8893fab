"""Atari100k reference scores as package data.

Source: Srinivas thesis 2021, Table 3.2 (= CURL paper Table 2), transcribed in seed001 §2.5. Its
"Human" and "Random" columns are the normalisation references of the Atari100k literature (the
thesis takes, for Human, the best score reported in prior work); "EffRainbow" is data-efficient
Rainbow (van Hasselt et al. 2019) and "CURL" the mean of 20 seeds (Appendix A) at 100k agent steps.
Human-normalised score: HNS = (score − random) / (human − random).
"""

from __future__ import annotations

import numpy as np

_TABLE = """\
game,human,random,eff_rainbow,curl
Alien,7127.7,227.8,739.9,558.2
Amidar,1719.5,5.8,188.6,142.1
Assault,742.0,222.4,431.2,600.6
Asterix,8503.3,210.0,470.8,734.5
BankHeist,753.1,14.2,51.0,131.6
BattleZone,37187.5,2360.0,10124.6,14870.0
Boxing,12.1,0.1,0.2,1.2
Breakout,30.5,1.7,1.9,4.9
ChopperCommand,7387.8,811.0,861.8,1058.5
CrazyClimber,35829.4,10780.5,16185.3,12146.5
DemonAttack,1971.0,152.1,508.0,817.6
Freeway,29.6,0.0,27.9,26.7
Frostbite,4334.7,65.2,866.8,1181.3
Gopher,2412.5,257.6,349.5,669.3
Hero,30826.4,1027.0,6857.0,6279.3
Jamesbond,302.8,29.0,301.6,471.0
Kangaroo,3035.0,52.0,779.3,872.5
Krull,2665.5,1598.0,2851.5,4229.6
KungFuMaster,22736.3,258.5,14346.1,14307.8
MsPacman,6951.6,307.3,1204.1,1465.5
Pong,14.6,-20.7,-19.3,-16.5
PrivateEye,69571.3,24.9,97.8,218.4
Qbert,13455.0,163.9,1152.9,1042.4
RoadRunner,7845.0,11.5,9600.0,5661.0
Seaquest,42054.7,68.4,354.1,384.5
UpNDown,11693.2,533.4,2877.4,2955.2
"""

COLUMNS = ("human", "random", "eff_rainbow", "curl")
SCORES: dict[str, dict[str, float]] = {
    row.split(",")[0]: dict(zip(COLUMNS, map(float, row.split(",")[1:])))
    for row in _TABLE.strip().splitlines()[1:]
}
ATARI100K_GAMES = tuple(SCORES)
"""The 26 Atari100k games."""

CURL_COEF_0_05 = ("Pong", "Freeway", "Boxing", "PrivateEye")
"""Games where the thesis uses a CURL loss coefficient of 0.05 (the reference code: 0.01) [seed001 §2.4]."""


def hns(game: str, score: float) -> float:
    """Human-normalised score of `score` on `game`."""
    ref = SCORES[game]
    return (score - ref["random"]) / (ref["human"] - ref["random"])


def hns_summary(column: str) -> tuple[float, float]:
    """(median, mean) HNS over the 26 games of a reference column ("eff_rainbow" or "curl")."""
    x = np.array([hns(g, SCORES[g][column]) for g in ATARI100K_GAMES])
    return float(np.median(x)), float(np.mean(x))
