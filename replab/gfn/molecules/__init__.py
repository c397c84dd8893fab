"""Fragment-based molecule generation (seed004 §S5): the thesis's 72 blocks, a block-tree DAG environment,
an RDKit-computable proxy reward (no docking), MCMC over block trees and diversity metrics.

Needs RDKit (`pip install 'replab[chem]'`); importing this package imports it.
"""

from replab.errors import require_extra

require_extra("rdkit", "chem")

from replab.gfn.molecules.blocks import BLOCK_SMILES, BlockLibrary  # noqa: E402
from replab.gfn.molecules.env import BlockMol, MolEnv  # noqa: E402
from replab.gfn.molecules.metrics import count_modes, mean_pairwise_tanimoto, top_k_mean  # noqa: E402

__all__ = [
    "BLOCK_SMILES",
    "BlockLibrary",
    "BlockMol",
    "MolEnv",
    "count_modes",
    "mean_pairwise_tanimoto",
    "top_k_mean",
]
