"""Its loss, plasticity injection, effective rank (Lyle; Nikishin; Gulcehre).

Non-stationary supervised problems and Double DQN on MinAtar.
"""
