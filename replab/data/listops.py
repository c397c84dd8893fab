"""ListOps (Nangia & Bowman 2018) as generated for the Long Range Arena (Tay et al. 2021), with no download.

The grammar and sampling follow LRA's `lra_benchmarks/data/listops.py`: a node below `max_depth` is an
operator with probability `value_p` = 0.25 (else a digit 0–9); an operator takes 2..`max_args` arguments
and is one of MIN, MAX, MED (int of the median) and SM (sum modulo 10). The sequence is the prefix form
without parentheses, e.g. `[MAX 2 9 [MIN 4 7 ] 0 ]` (LRA's parentheses are dropped, as LRA/S4 models do),
its length counts one token per digit, operator and closing bracket, and LRA keeps trees with
min_length < length < max_length, unique. The label is the value (10 classes). LRA's settings are
max_depth = 10, max_args = 10, lengths 500–2000; the CPU presets use smaller trees.

Token ids: 0 = padding, 1..10 = digits 0..9, 11..14 = [MIN [MAX [MED [SM, 15 = ].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

OPERATORS = ("[MIN", "[MAX", "[MED", "[SM")
END = "]"
VOCAB = ("<pad>",) + tuple(str(d) for d in range(10)) + OPERATORS + (END,)
TOKEN_ID = {tok: i for i, tok in enumerate(VOCAB)}
VALUE_P = 0.25  # LRA listops.py: probability that a node (below max depth) is an operator


def generate_tree(rng: np.random.Generator, max_depth: int = 10, max_args: int = 10, depth: int = 1):
    """One random expression as (tree, length); a tree is an int or (operator, [subtrees]).

    Draw order follows LRA's `generate_tree`: the node type, then the argument count, then the
    arguments, then the operator.
    """
    r = rng.random() if depth < max_depth else 1.0
    if r > VALUE_P:
        return int(rng.integers(10)), 1
    n_args = int(rng.integers(2, max_args + 1))
    args, length = [], 2  # the operator and the closing bracket
    for _ in range(n_args):
        sub, sub_len = generate_tree(rng, max_depth, max_args, depth + 1)
        args.append(sub)
        length += sub_len
    return (OPERATORS[int(rng.integers(len(OPERATORS)))], args), length


def evaluate(tree) -> int:
    """The value of a tree: MIN, MAX, MED = int(np.median(args)) as in LRA, SM = sum(args) mod 10."""
    if isinstance(tree, int):
        return tree
    op, args = tree
    values = [evaluate(a) for a in args]
    if op == "[MIN":
        return min(values)
    if op == "[MAX":
        return max(values)
    if op == "[MED":
        return int(np.median(values))
    return sum(values) % 10


def to_tokens(tree) -> list[str]:
    """Prefix tokens without parentheses: `[MAX 2 9 [MIN 4 7 ] 0 ]`."""
    if isinstance(tree, int):
        return [str(tree)]
    op, args = tree
    out = [op]
    for a in args:
        out += to_tokens(a)
    return out + [END]


@dataclass
class ListOpsData:
    """Token ids (n, L_max) right-padded with 0, lengths (n,), labels (n,) in 0..9, and the raw token lists."""

    tokens: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    sequences: list[list[str]]


def make_listops(
    n: int,
    rng: np.random.Generator,
    *,
    min_length: int = 500,
    max_length: int = 2000,
    max_depth: int = 10,
    max_args: int = 10,
    max_tries: int = 10_000_000,
) -> ListOpsData:
    """`n` unique ListOps examples with min_length < length < max_length (LRA's rejection rule).

    Deterministic given `rng`. Raises ValueError when the bounds make the examples too rare to find.
    """
    if not 0 <= min_length < max_length - 1:
        raise ValueError(f"need 0 <= min_length < max_length - 1, got {min_length}, {max_length}")
    if max_depth < 2 or max_args < 2:
        raise ValueError(f"max_depth and max_args must be >= 2, got {max_depth}, {max_args}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    seen, sequences = set(), []
    for _ in range(max_tries):
        tree, length = generate_tree(rng, max_depth, max_args)
        if min_length < length < max_length:
            toks = to_tokens(tree)
            key = " ".join(toks)
            if key not in seen:
                seen.add(key)
                sequences.append((toks, evaluate(tree)))
                if len(sequences) == n:
                    break
    else:
        raise ValueError(
            f"found only {len(sequences)} of {n} ListOps trees with {min_length} < length < "
            f"{max_length} (max_depth={max_depth}, max_args={max_args}) in {max_tries} tries"
        )
    lengths = torch.tensor([len(t) for t, _ in sequences])
    ids = torch.zeros(n, int(lengths.max()), dtype=torch.long)
    for i, (toks, _) in enumerate(sequences):
        ids[i, : len(toks)] = torch.tensor([TOKEN_ID[t] for t in toks])
    labels = torch.tensor([v for _, v in sequences])
    return ListOpsData(ids, lengths, labels, [t for t, _ in sequences])
