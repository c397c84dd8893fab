"""Unsupervised meta-RL (CARML) and controllable factors (selectivity).

CARML: Jabri 2023 ch. 4; selectivity: E. Bengio 2022 ch. 6.

CARML's self-generated tasks for an RL² meta-learner in an egocentric pixel room, and the selectivity objective
for independently controllable features in a gridworld (seed003 Part C, seed004 §S6).
"""
