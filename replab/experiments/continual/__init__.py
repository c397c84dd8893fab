"""Continual learning: NEVIS-mini streams, compute-optimal transfer by pruning, and continual control with
ClonEx-SAC (seed002 §3, §7, §9)."""
