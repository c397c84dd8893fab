"""The tunnel effect (Masarczyk et al. 2023).

Early layers extract linearly separable features; later layers compress them.
"""
