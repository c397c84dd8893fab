"""Unsupervised meta-RL (CARML, seed003 Part C) and independently controllable factors (seed004 §S6).

`egoroom` (the egocentric pixel room, vectorised), `gridworld` (the selectivity gridworld), `reservoir`,
`gmm` (trajectory-level mixture), `scaffold` (DeepCluster E-step, rewards), `whiten`, `rl2` (the RL² agent),
`rollout` (trials), `carml` (outer loop, direct transfer), `selectivity` (controllable factors).
"""
