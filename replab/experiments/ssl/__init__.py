"""Self-supervised perception: CPC v2, SemPPL, BoTNet.

Label efficiency, semantic positives, and bottleneck attention (Hénaff; Bošnjak; Srinivas).
"""
