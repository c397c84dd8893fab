"""Sequence tasks: ListOps answers checked by an independent evaluator; generators are deterministic and shaped."""

import statistics

import numpy as np
import pytest
import torch

from replab.data.listops import TOKEN_ID, VOCAB, evaluate, generate_tree, make_listops, to_tokens
from replab.data.sequences import adding_problem, delayed_recall, selective_copying, sequential_digits


def python_eval(tokens: list[str]) -> int:
    """Independent evaluator: translate the prefix tokens into a Python expression and eval it."""
    funcs = {"[MIN": "min([", "[MAX": "max([", "[MED": "int(statistics.median([", "[SM": "(sum(["}
    closers, out = [], []
    for tok in tokens:
        if tok in funcs:
            out.append(funcs[tok])
            closers.append({"[MED": "]))", "[SM": "]) % 10)"}.get(tok, "])"))
        elif tok == "]":
            out.append(closers.pop() + ",")
        else:
            out.append(tok + ",")
    return eval("".join(out).rstrip(","), {"statistics": statistics})


def stack_eval(tokens: list[str]) -> int:
    """A second independent evaluator: a stack machine over the token sequence."""
    stack: list = []
    for tok in tokens:
        if tok == "]":
            args = []
            while not isinstance(stack[-1], str):
                args.append(stack.pop())
            op = stack.pop()
            s = sorted(args)
            mid = len(s) // 2
            med = s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) // 2
            stack.append({"[MIN": s[0], "[MAX": s[-1], "[MED": med, "[SM": sum(s) % 10}[op])
        elif tok.startswith("["):
            stack.append(tok)
        else:
            stack.append(int(tok))
    (value,) = stack
    return value


def test_known_expressions():
    tree = ("[MAX", [2, 9, ("[MIN", [4, 7]), 0])
    assert to_tokens(tree) == ["[MAX", "2", "9", "[MIN", "4", "7", "]", "0", "]"] and evaluate(tree) == 9
    assert evaluate(("[MED", [1, 2, 7, 9])) == 4  # int(np.median) = int(4.5), LRA's rule
    assert evaluate(("[SM", [5, 8, 9])) == 2


def test_listops_answers_match_independent_evaluators():
    data = make_listops(300, np.random.default_rng(0), min_length=5, max_length=120, max_depth=6, max_args=5)
    for toks, label, n, row in zip(data.sequences, data.labels, data.lengths, data.tokens):
        assert python_eval(toks) == stack_eval(toks) == int(label)
        assert 5 < int(n) < 120
        assert [VOCAB[i] for i in row[: int(n)]] == toks and (row[int(n) :] == 0).all()
    assert len({" ".join(t) for t in data.sequences}) == 300  # unique, as LRA
    assert len(set(data.labels.tolist())) == 10


def test_listops_lra_lengths_and_determinism():
    a = make_listops(5, np.random.default_rng(1), min_length=500, max_length=2000)
    b = make_listops(5, np.random.default_rng(1), min_length=500, max_length=2000)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.labels, b.labels)
    assert (a.lengths > 500).all() and (a.lengths < 2000).all()
    for toks, label in zip(a.sequences, a.labels):
        assert python_eval(toks) == int(label)
    length = generate_tree(np.random.default_rng(3), 10, 10)
    assert length[1] == len(to_tokens(length[0]))
    assert TOKEN_ID["<pad>"] == 0


def test_sequential_digits_split_and_permutation():
    plain = sequential_digits(rng=np.random.default_rng(0))
    perm = sequential_digits(permuted=True, rng=np.random.default_rng(0))
    assert plain.x_train.shape[1:] == (64, 1) and len(plain.x_train) + len(plain.x_test) == 1797
    assert abs(float(plain.x_train.mean())) < 1e-4 and abs(float(plain.x_train.std()) - 1) < 1e-3
    assert not torch.equal(plain.x_train, perm.x_train)
    # the permuted variant is the same images with pixels reordered: sorted pixel values agree
    torch.testing.assert_close(plain.x_train.sort(1).values, perm.x_train.sort(1).values)
    assert sequential_digits(size=16, rng=np.random.default_rng(0)).x_test.shape[1] == 256


def test_delayed_recall_layout():
    x, y = delayed_recall(np.random.default_rng(0), 4, delay=30, pattern_length=5, n_symbols=8)
    assert x.shape == (4, 40) and y.shape == (4, 5)
    torch.testing.assert_close(x[:, :5], y + 1)
    assert (x[:, 5 + 30 - 1] == 9).all() and (x[:, 5:34] == 0).all() and (x[:, 35:] == 0).all()


def test_adding_problem_targets():
    x, y = adding_problem(np.random.default_rng(0), 64, 100)
    assert x.shape == (64, 100, 2)
    assert (x[..., 1].sum(1) == 2).all() and (x[:, :50, 1].sum(1) == 1).all()
    torch.testing.assert_close((x[..., 0] * x[..., 1]).sum(1), y)


def test_selective_copying_targets_in_order():
    x, y = selective_copying(np.random.default_rng(0), 8, 50, n_memorize=4, n_tokens=6)
    assert x.shape == (8, 54) and (x[:, 50:] == 7).all()
    for row, target in zip(x, y):
        assert torch.equal(row[:50][row[:50] > 0] - 1, target)


def test_generators_validate():
    with pytest.raises(ValueError, match="delay"):
        delayed_recall(np.random.default_rng(0), 2, delay=0)
    with pytest.raises(ValueError, match="min_length"):
        make_listops(2, np.random.default_rng(0), min_length=10, max_length=5)
