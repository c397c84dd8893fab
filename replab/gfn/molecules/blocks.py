"""The 72 building blocks of thesis §5.3.2.1 and their attachment atoms ("stems").

The thesis's stems come from the reference code's block file, which is not available here; this module
derives them by a documented rule instead: a block's stems are up to `max_stems` heavy atoms carrying
at least one hydrogen, chosen by farthest-point selection over the block's bond graph (the first such
atom, then repeatedly the one farthest from those chosen). A block action is a block attached through
one of its stems, one per symmetry class of stem within the block (the thesis also duplicates blocks
per symmetry class of attachment point, giving 105 actions per stem).

Two SMILES of the thesis's list do not parse as printed and are repaired: "O=c1cc[nH]c(=O)[nH]"
(uracil, ring closure added) and "c1ccc2cccc2c1" (naphthalene, "c1ccc2ccccc2c1"). Two blocks have no
hydrogen-bearing atom (O=P[O-], O=S=O) and cannot take a single bond without breaking valence rules,
so they have no stem and are left out: 70 blocks are usable.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdkit import Chem

# thesis §5.3.2.1, in the thesis's order (two repaired, see the module docstring)
BLOCK_SMILES = (
    "Br C C#N C1=CCCC1 C1=CNC=CC1 C1CC1 C1CCCC1 C1CCCCC1 C1CCNC1 C1CCNCC1 C1CCOC1 C1CCOCC1 C1CNCCN1 "
    "C1COCCN1 C1COCC[NH2+]1 C=C C=C(C)C C=CC C=N C=O CC CC(C)C CC(C)O CC(N)=O CC=O CCC CCO CN CNC "
    "CNC(C)=O CNC=O CO CS C[NH3+] C[SH2+] Cl F FC(F)F I N N=CN NC=O N[SH](=O)=O O O=CNO O=CO O=C[O-] "
    "O=PO O=P[O-] O=S=O O=[NH+][O-] O=[PH](O)O O=[PH]([O-])O O=[SH](=O)O O=[SH](=O)[O-] "
    "O=c1[nH]cnc2[nH]cnc12 O=c1[nH]cnc2c1NCCN2 O=c1cc[nH]c(=O)[nH]1 O=c1nc2[nH]c3ccccc3nc-2c(=O)[nH]1 "
    "O=c1nccc[nH]1 S c1cc[nH+]cc1 c1cc[nH]c1 c1ccc2[nH]ccc2c1 c1ccc2ccccc2c1 c1ccccc1 c1ccncc1 c1ccsc1 "
    "c1cn[nH]c1 c1cncnc1 c1cscn1 c1ncc2nc[nH]c2n1"
).split()


@dataclass(frozen=True)
class Block:
    smiles: str
    stems: tuple[int, ...]
    """Atom indices where bonds may be made (each used at most once)."""


class BlockLibrary:
    """Usable blocks, their stems, and the block actions `(block, attach atom)`."""

    def __init__(self, smiles: tuple[str, ...] = BLOCK_SMILES, max_stems: int = 3):
        if max_stems < 1:
            raise ValueError(f"max_stems must be >= 1, got {max_stems}")
        self.blocks: list[Block] = []
        self.mols: list[Chem.Mol] = []
        self.skipped: list[str] = []
        self.actions: list[tuple[int, int]] = []  # (block index, attach atom)
        for smi in smiles:
            mol = Chem.MolFromSmiles(smi)
            if mol is None:
                raise ValueError(f"block SMILES {smi!r} does not parse")
            stems = _farthest_stems(mol, max_stems)
            if not stems:
                self.skipped.append(smi)
                continue
            b = len(self.blocks)
            self.blocks.append(Block(smi, stems))
            self.mols.append(mol)
            classes = list(Chem.CanonicalRankAtoms(mol, breakTies=False))
            seen = set()
            for atom in stems:
                if classes[atom] not in seen:
                    seen.add(classes[atom])
                    self.actions.append((b, atom))
        self._action_of = {}
        for i, (b, atom) in enumerate(self.actions):
            classes = list(Chem.CanonicalRankAtoms(self.mols[b], breakTies=False))
            for other in self.blocks[b].stems:
                if classes[other] == classes[atom]:
                    self._action_of[(b, other)] = i

    def __len__(self) -> int:
        return len(self.blocks)

    def action_of(self, block: int, atom: int) -> int:
        """The block action attaching `block` through `atom` (or a stem symmetric to it)."""
        return self._action_of[(block, atom)]


def _farthest_stems(mol: Chem.Mol, k: int) -> tuple[int, ...]:
    candidates = [a.GetIdx() for a in mol.GetAtoms() if a.GetTotalNumHs() > 0]
    if not candidates:
        return ()
    dist = Chem.GetDistanceMatrix(mol)
    chosen = [candidates[0]]
    while len(chosen) < min(k, len(candidates)):
        rest = [c for c in candidates if c not in chosen]
        chosen.append(max(rest, key=lambda c: (min(dist[c][s] for s in chosen), -c)))
    return tuple(sorted(chosen))
