"""Diffusion with Recurrent Interface Networks (Jabri et al. 2023).

Latent self-conditioning, read-write frequency and adaptive computation, on digits and procedural sprites
(seed003 Part A).
"""
