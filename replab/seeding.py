"""One seed per run, split into named generators (DESIGN §2 'Randomness')."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch

from replab.errors import ReplabError


def derive_seed(seed: int, name: str) -> int:
    """A 63-bit seed for stream `name`, stable across processes and Python versions."""
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def generator(seed: int, name: str, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator for the named stream (env, augment, init, sampler, ...) of a run seeded `seed`."""
    g = torch.Generator(device=device)
    g.manual_seed(derive_seed(seed, name))
    return g


def rng(seed: int, name: str) -> np.random.Generator:
    """A numpy generator for the named stream, for code at the numpy edge (environments, data)."""
    return np.random.default_rng(derive_seed(seed, name))


def seed_everything(seed: int) -> None:
    """Seed the global generators too, for library code that draws from them (e.g. nn.init)."""
    random.seed(derive_seed(seed, "python"))
    np.random.seed(derive_seed(seed, "numpy") % (2**32))  # noqa: NPY002 (seeding the legacy global on purpose)
    torch.manual_seed(derive_seed(seed, "torch"))


MAX_SEED = 2**63 - 1  # the run store keeps seeds as SQLite's signed 64-bit INTEGER


def check_seed(seed: int, option: str = "--seed") -> int:
    """`seed` if it is a whole number in [0, 2**63 - 1], else a one-line ReplabError."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ReplabError(f"{option} must be a whole number from 0 to 2**63 - 1, got {seed}")
    return seed
