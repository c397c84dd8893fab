"""The block-tree molecule DAG of thesis §5.3.2 (seed004 §S5.2) as a `DAGEnv` over state ids.

A state is a tree of blocks joined by single bonds between stem atoms, or the terminal "s then stop"
node of such a tree. Actions attach a block action (block + its attach atom) to one stem *slot* of the
current molecule, or stop; at most `max_blocks` blocks (thesis: 8), after which only stop is allowed.

Isomorphic block trees are the same state: a state is identified by the canonical SMILES of its
molecule with every atom labelled by (block type, atom in block), and stems that are symmetric in that
labelled graph form one slot (slots ordered by RDKit's canonical atom rank). So every parent edge
(p, a) of a state x is found by removing one leaf block of x (seed004 §S5.6, §S5.7: parent enumeration
consistent with the forward action indexing). States are rows `(B, 1)` of ids into this environment's
registry, so the tensor-batched sampler, GFlowNet, PPO and SAC run on it unchanged.

Reward (no docking, a documented proxy): R(x) = max(R_min, 10·QED(x)), shaped as R̂ = (R/T)^β with the
thesis's T = 8, β = 10 (seed004 §S5.2); log R̂ = β (log R − log T).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from rdkit import Chem, RDLogger
from rdkit.Chem import QED, rdFingerprintGenerator

from replab.gfn.env import DAGEnv
from replab.gfn.molecules.blocks import BlockLibrary

RDLogger.DisableLog("rdApp.*")


@dataclass(frozen=True)
class BlockMol:
    blocks: tuple[int, ...] = ()
    """Block indices of the tree's nodes."""
    bonds: tuple[tuple[int, int, int, int], ...] = ()
    """(node i, atom in i, node j, atom in j) single bonds between stems."""
    stopped: bool = False


class MolEnv(DAGEnv):
    """`MolEnv(max_blocks=8, beta=10, T=8, R_min=0.01)` over the blocks of `BlockLibrary()`."""

    def __init__(
        self,
        library: BlockLibrary | None = None,
        max_blocks: int = 8,
        beta: float = 10.0,
        T: float = 8.0,
        R_min: float = 0.01,
        fp_bits: int = 2048,
    ):
        if max_blocks < 1:
            raise ValueError(f"max_blocks must be >= 1, got {max_blocks}")
        if beta <= 0 or T <= 0 or R_min <= 0:
            raise ValueError(f"beta, T and R_min must be > 0, got beta={beta}, T={T}, R_min={R_min}")
        self.lib = library or BlockLibrary()
        self.max_blocks, self.beta, self.T, self.R_min, self.fp_bits = max_blocks, beta, T, R_min, fp_bits
        self.n_block_actions = len(self.lib.actions)
        self.max_slots = max_blocks + max(len(b.stems) for b in self.lib.blocks)
        self.n_actions = self.max_slots * self.n_block_actions + 1
        self.state_dim = 1
        self.n_parent_slots = max(max_blocks, 3)
        self._fpgen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=fp_bits)
        self._states: list[BlockMol] = []
        self._info: list[dict] = []
        self._ids: dict[tuple[str, bool], int] = {}
        self._raw: dict[BlockMol, int] = {}
        self.s0 = self._register(BlockMol())

    # -- registry -------------------------------------------------------------------------------------
    def state(self, i: int) -> BlockMol:
        return self._states[i]

    def info(self, i: int) -> dict:
        return self._info[i]

    def _register(self, bm: BlockMol, mol: Chem.Mol | None = None) -> int:
        if bm in self._raw:  # this exact representation was seen before
            return self._raw[bm]
        mol = mol if mol is not None else self._assemble(bm)
        key = "" if mol is None else Chem.MolToSmiles(_labelled(mol, bm, self.lib))
        ident = (key, bm.stopped)
        if ident in self._ids:
            self._raw[bm] = self._ids[ident]
            return self._ids[ident]
        info = {"key": key, "n_blocks": len(bm.blocks)}
        if mol is not None:
            info["smiles"] = Chem.MolToSmiles(mol)
            info["fp"] = np.asarray(list(self._fpgen.GetFingerprint(mol).GetOnBits()), dtype=np.int64)
            info["slots"] = self._slots(mol, bm)
        else:
            info.update(smiles="", fp=np.zeros(0, dtype=np.int64), slots=[])
        counts = np.zeros(len(self.lib), dtype=np.float32)
        for b in bm.blocks:
            counts[b] += 1
        info["counts"] = counts
        if bm.stopped:
            info["reward"] = max(self.R_min, 10.0 * QED.qed(mol))
        self._ids[ident] = self._raw[bm] = len(self._states)
        self._states.append(bm)
        self._info.append(info)
        return self._ids[ident]

    def _assemble(self, bm: BlockMol) -> Chem.Mol | None:
        if not bm.blocks:
            return None
        mol, offsets = Chem.Mol(), []
        for b in bm.blocks:
            offsets.append(mol.GetNumAtoms())
            mol = Chem.CombineMols(mol, self.lib.mols[b])
        rw = Chem.RWMol(mol)
        for i, ai, j, aj in bm.bonds:
            a, c = offsets[i] + ai, offsets[j] + aj
            rw.AddBond(a, c, Chem.BondType.SINGLE)
            for idx in (a, c):  # the new bond replaces one hydrogen of each stem atom
                atom = rw.GetAtomWithIdx(idx)
                if atom.GetNumExplicitHs() > 0:
                    atom.SetNumExplicitHs(atom.GetNumExplicitHs() - 1)
        out = rw.GetMol()
        Chem.SanitizeMol(out)
        return out

    def _free_stems(self, bm: BlockMol) -> list[tuple[int, int]]:
        used = {(i, ai) for i, ai, _, _ in bm.bonds} | {(j, aj) for _, _, j, aj in bm.bonds}
        return [
            (i, a) for i, b in enumerate(bm.blocks) for a in self.lib.blocks[b].stems if (i, a) not in used
        ]

    def _ranks(self, mol: Chem.Mol, bm: BlockMol) -> tuple[list[int], list[int]]:
        offsets = np.cumsum([0] + [self.lib.mols[b].GetNumAtoms() for b in bm.blocks]).tolist()
        return list(Chem.CanonicalRankAtoms(_labelled(mol, bm, self.lib), breakTies=False)), offsets

    def _slots(self, mol: Chem.Mol, bm: BlockMol) -> list[tuple[int, int]]:
        """One representative free stem per symmetry class, ordered by canonical rank, capped at max_slots."""
        ranks, offsets = self._ranks(mol, bm)
        best: dict[int, tuple[int, int]] = {}
        for i, a in self._free_stems(bm):
            best.setdefault(ranks[offsets[i] + a], (i, a))
        return [best[r] for r in sorted(best)][: self.max_slots]

    def _slot_of(self, bm: BlockMol, stem: tuple[int, int], mol: Chem.Mol) -> int:
        ranks, offsets = self._ranks(mol, bm)
        classes = sorted({ranks[offsets[i] + a] for i, a in self._free_stems(bm)})
        return classes.index(ranks[offsets[stem[0]] + stem[1]])

    # -- the DAG contract -----------------------------------------------------------------------------
    def initial(self, batch: int) -> torch.Tensor:
        return torch.full((batch, 1), self.s0, dtype=torch.long)

    def is_terminal(self, states: torch.Tensor) -> torch.Tensor:
        return torch.tensor([self._states[i].stopped for i in states[:, 0].tolist()], dtype=torch.bool)

    def forward_mask(self, states: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros(len(states), self.n_actions, dtype=torch.bool)
        for row, i in enumerate(states[:, 0].tolist()):
            bm, info = self._states[i], self._info[i]
            if bm.stopped:
                continue
            if not bm.blocks:
                mask[row, : self.n_block_actions] = True  # the first block, through the virtual slot 0
                continue
            if len(bm.blocks) < self.max_blocks:
                mask[row, : len(info["slots"]) * self.n_block_actions] = True
            mask[row, -1] = True
        return mask

    def step(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        out = []
        for i, a in zip(states[:, 0].tolist(), actions.tolist()):
            bm = self._states[i]
            if a == self.n_actions - 1:
                out.append(self._register(BlockMol(bm.blocks, bm.bonds, True)))
                continue
            slot, ba = divmod(a, self.n_block_actions)
            block, atom = self.lib.actions[ba]
            if not bm.blocks:
                out.append(self._register(BlockMol((block,), ())))
                continue
            node, stem_atom = self._info[i]["slots"][slot]
            new = BlockMol(bm.blocks + (block,), bm.bonds + ((node, stem_atom, len(bm.blocks), atom),))
            out.append(self._register(new))
        return torch.tensor(out, dtype=torch.long)[:, None]

    def parents(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        P = self.n_parent_slots
        par = torch.zeros(len(states), P, 1, dtype=torch.long)
        act = torch.zeros(len(states), P, dtype=torch.long)
        mask = torch.zeros(len(states), P, dtype=torch.bool)
        for row, i in enumerate(states[:, 0].tolist()):
            edges = self._parent_edges(i)
            for k, (p, a) in enumerate(edges[:P]):
                par[row, k, 0], act[row, k], mask[row, k] = p, a, True
        return par, act, mask

    def _parent_edges(self, i: int) -> list[tuple[int, int]]:
        info = self._info[i]
        if "parents" in info:
            return info["parents"]
        bm = self._states[i]
        if bm.stopped:
            edges = [(self._register(BlockMol(bm.blocks, bm.bonds)), self.n_actions - 1)]
        elif not bm.blocks:
            edges = []
        elif len(bm.blocks) == 1:  # s0 --(slot 0, any block action of this block)--> x
            edges = [(self.s0, ba) for ba, (b, _) in enumerate(self.lib.actions) if b == bm.blocks[0]]
        else:
            found = {}
            for leaf in range(len(bm.blocks)):
                touching = [bd for bd in bm.bonds if leaf in (bd[0], bd[2])]
                if len(touching) != 1:
                    continue
                i0, a0, j0, b0 = touching[0]
                (other, other_atom), leaf_atom = ((j0, b0), a0) if i0 == leaf else ((i0, a0), b0)
                parent = _remove_node(bm, leaf)
                mol = self._assemble(parent)
                stem = (other - (other > leaf), other_atom)
                action = self._slot_of(parent, stem, mol) * self.n_block_actions + self.lib.action_of(
                    bm.blocks[leaf], leaf_atom
                )
                found.setdefault((self._register(parent, mol), action), None)
            edges = list(found)
        info["parents"] = edges
        return edges

    def log_reward(self, states: torch.Tensor) -> torch.Tensor:
        """log R̂ = β (log R − log T) at stopped states (0 elsewhere, unused)."""
        out = [
            self.beta * (math.log(self._info[i]["reward"]) - math.log(self.T))
            if "reward" in self._info[i]
            else 0.0
            for i in states[:, 0].tolist()
        ]
        return torch.tensor(out, dtype=torch.float64)

    def reward(self, i: int) -> float:
        """R(x) = max(R_min, 10·QED(x)) of a stopped state id."""
        return self._info[i]["reward"]

    def features(self, states: torch.Tensor) -> torch.Tensor:
        """[Morgan fingerprint (r=2, fp_bits), block counts] `(B, fp_bits + n_blocks)` (seed004 §S5.6)."""
        ids = states[:, 0].tolist()
        x = torch.zeros(len(ids), self.fp_bits + len(self.lib))
        for row, i in enumerate(ids):
            info = self._info[i]
            x[row, torch.from_numpy(info["fp"])] = 1.0
            x[row, self.fp_bits :] = torch.from_numpy(info["counts"])
        return x


def _labelled(mol: Chem.Mol, bm: BlockMol, lib: BlockLibrary) -> Chem.Mol:
    """A copy of `mol` whose atoms carry (block type, atom in block) as their isotope label."""
    out = Chem.Mol(mol)
    k = 0
    for b in bm.blocks:
        for a in range(lib.mols[b].GetNumAtoms()):
            out.GetAtomWithIdx(k).SetIsotope(1 + 128 * b + a)
            k += 1
    return out


def _remove_node(bm: BlockMol, node: int) -> BlockMol:
    def re(x):
        return x - (x > node)

    bonds = tuple((re(i), ai, re(j), aj) for i, ai, j, aj in bm.bonds if node not in (i, j))
    return BlockMol(bm.blocks[:node] + bm.blocks[node + 1 :], bonds)
