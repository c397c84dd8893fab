"""Reinforcement learning: the frame-once replay (`buffers`), value-based agents (`rainbow`: Rainbow and
DQN on `qnet` networks), auxiliary objectives (`curl`), the training loop (`loop`) and the evaluation
protocol (`evaluate`)."""
