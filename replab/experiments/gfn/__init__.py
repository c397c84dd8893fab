"""GFlowNets on the hyper-grid and on molecules (Bengio et al. 2021).

Flow matching, detailed and trajectory balance against MCMC, PPO and SAC; exact L1 by dynamic programming.
"""
