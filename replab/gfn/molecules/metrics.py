"""Molecule-set metrics of thesis §5.3.2 (seed004 §S5.4): top-k reward, Tanimoto diversity, greedy modes.

Uniques are counted by canonical SMILES (seed004 §S5.7); similarity is Tanimoto on Morgan fingerprints,
radius 2, 2048 bits (the thesis does not say which fingerprint; seed004 §S5.7 suggests this one).
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

_GEN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def _fp(smiles: str):
    return _GEN.GetFingerprint(Chem.MolFromSmiles(smiles))


def unique_best(samples: list[tuple[str, float]]) -> dict[str, float]:
    """{canonical SMILES: reward} over (smiles, reward) samples."""
    return {s: r for s, r in samples}


def top_k_mean(samples: list[tuple[str, float]], k: int) -> float:
    """Mean reward of the k best unique molecules (nan if fewer than k)."""
    rewards = sorted(unique_best(samples).values(), reverse=True)
    return float(np.mean(rewards[:k])) if len(rewards) >= k else float("nan")


def mean_pairwise_tanimoto(smiles: list[str]) -> float:
    """Mean Tanimoto similarity over all pairs (lower = more diverse)."""
    if len(smiles) < 2:
        return float("nan")
    fps = [_fp(s) for s in smiles]
    sims = [
        np.mean(DataStructs.BulkTanimotoSimilarity(fps[i], fps[i + 1 :])) * (len(fps) - i - 1)
        for i in range(len(fps) - 1)
    ]
    return float(np.sum(sims) / (len(fps) * (len(fps) - 1) / 2))


def top_k_smiles(samples: list[tuple[str, float]], k: int) -> list[str]:
    best = unique_best(samples)
    return sorted(best, key=best.get, reverse=True)[:k]


def count_modes(samples: list[tuple[str, float]], threshold: float, similarity: float = 0.7) -> int:
    """Greedy modes in order of discovery: a molecule with reward > threshold is a new mode when its
    Tanimoto similarity to every earlier mode is < `similarity` (thesis Fig. 5.10: S = 0.7)."""
    return len(mode_discoveries(samples, threshold, similarity))


def mode_discoveries(
    samples: list[tuple[str, float]], threshold: float, similarity: float = 0.7
) -> list[int]:
    """The sample indices at which each greedy mode of `count_modes` was discovered."""
    modes, seen, found = [], set(), []
    for n, (smi, r) in enumerate(samples):
        if r <= threshold or smi in seen:
            continue
        seen.add(smi)
        fp = _fp(smi)
        if not modes or max(DataStructs.BulkTanimotoSimilarity(fp, modes)) < similarity:
            modes.append(fp)
            found.append(n)
    return found
