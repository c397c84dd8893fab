"""Video correspondence: the contrastive random walk (Jabri et al. 2020).

CRW training on palindromes of patch nodes, evaluated by label propagation of instance masks (J&F).
"""
