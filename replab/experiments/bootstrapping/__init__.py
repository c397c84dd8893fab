"""Corrected momentum for TD, memorization (E. Bengio, thesis 2022).

Staleness-corrected momentum for TD policy evaluation (seed004 §S3) and loss-sensitivity (§S1).
"""
