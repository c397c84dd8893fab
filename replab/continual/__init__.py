"""Continual learning (seed002 §3, §7, §9): the Learner contract and stream runner with compute accounting,
NEVIS-mini, zero-shot structured pruning for compute-optimal transfer, and ClonEx-SAC with the Continual
World metrics. Each module is one concept; import from the module (this file stays free of imports so the
parts can land independently)."""
