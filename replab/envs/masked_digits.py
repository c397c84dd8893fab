"""The masked-digits classification MDP (seed004 §S2.6a, the reduced form of the thesis's masked SVHN/CIFAR
MDP of §3.2.2, §S2.3), vectorised over a batch of episodes.

An episode's "seed" is an image index (training and test seeds are disjoint images, §S2.7). scikit-learn's
8×8 digits, scaled to [0, 1]. A 4×4 window starts centred (rows/cols 2..5); each step the agent picks a
class *and* a move at once (the reference code's joint action from two Q heads, 10 + 4 = 14 outputs;
§S2.7: the thesis text suggests a move *or* a class — logged choice): reward +1 and the episode ends if
the class is right, else −0.1 (the thesis's step reward; the code's 0.05 is not used) and the window
moves 2 px up/down/left/right, clipped to the image. The observation is 2 × 8 × 8: the current window's
mask and the pixels revealed so far (they accumulate). At most `max_steps` = 10 steps (truncation).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

CLASSES = 10
MOVES = ("up", "down", "left", "right")
SIZE, WINDOW, STRIDE, START = 8, 4, 2, 2
_DELTA = torch.tensor([[-STRIDE, 0], [STRIDE, 0], [0, -STRIDE], [0, STRIDE]])


def load_digits_split() -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """((train images, labels), (test images, labels)): the first 1297 digits are the training pool, the
    last 500 the test seeds (§S2.6a); images (N, 8, 8) float32 in [0, 1]. scikit-learn ships the data."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target, dtype=torch.long)
    return (x[:1297], y[:1297]), (x[-500:], y[-500:])


class MaskedDigits:
    """A batch of episodes on `images` (N, 8, 8) with `labels` (N,). `reset(seeds)` starts one episode per
    image index; `step(classes, moves)` advances all of them (finished ones must be reset by the caller)."""

    def __init__(
        self, images: Tensor, labels: Tensor, *, max_steps: int = 10, step_reward: float = 0.1
    ) -> None:
        if images.dim() != 3 or tuple(images.shape[1:]) != (SIZE, SIZE):
            raise ValueError(f"images must be (N, {SIZE}, {SIZE}), got {tuple(images.shape)}")
        if labels.shape != images.shape[:1]:
            raise ValueError(f"labels must be ({images.shape[0]},), got {tuple(labels.shape)}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.images, self.labels = images.float(), labels.long()
        self.max_steps, self.step_reward = max_steps, float(step_reward)
        self.seeds = torch.zeros(0, dtype=torch.long)

    def reset(self, seeds: Tensor | np.ndarray | list[int]) -> Tensor:
        """Start episodes on the images `seeds` (B,); returns the observations (B, 2, 8, 8)."""
        seeds = torch.as_tensor(seeds, dtype=torch.long)
        if seeds.dim() != 1 or (seeds < 0).any() or (seeds >= len(self.images)).any():
            raise ValueError(f"seeds must be a 1-D batch of image indices in [0, {len(self.images)})")
        b = len(seeds)
        self.seeds = seeds
        self.pos = torch.full((b, 2), START, dtype=torch.long)  # the window's top-left (row, col)
        self.revealed = torch.zeros(b, SIZE, SIZE, dtype=torch.bool)
        self.t = torch.zeros(b, dtype=torch.long)
        self.revealed |= self._window()
        return self.observation()

    def _window(self) -> Tensor:
        r = torch.arange(SIZE)
        rows = (r >= self.pos[:, :1]) & (r < self.pos[:, :1] + WINDOW)  # (B, 8)
        cols = (r >= self.pos[:, 1:]) & (r < self.pos[:, 1:] + WINDOW)
        return rows[:, :, None] & cols[:, None, :]

    def observation(self) -> Tensor:
        """(B, 2, 8, 8) float32: channel 0 the current window's mask, channel 1 the revealed pixels."""
        img = self.images[self.seeds]
        return torch.stack([self._window().float(), img * self.revealed], 1)

    def step(self, classes: Tensor, moves: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(observation, reward, terminated, truncated) after the joint actions (class (B,), move (B,)):
        +1 and terminated on the right class; else −step_reward, the move (clipped) and its reveal;
        truncated once `max_steps` steps are taken without the right class."""
        classes, moves = torch.as_tensor(classes).long(), torch.as_tensor(moves).long()
        b = len(self.seeds)
        if classes.shape != (b,) or moves.shape != (b,):
            raise ValueError(
                f"classes and moves must have shape ({b},), got {tuple(classes.shape)}, {tuple(moves.shape)}"
            )
        if (
            (classes < 0).any()
            or (classes >= CLASSES).any()
            or (moves < 0).any()
            or (moves >= len(MOVES)).any()
        ):
            raise ValueError(f"classes must lie in [0, {CLASSES}) and moves in [0, {len(MOVES)})")
        correct = classes == self.labels[self.seeds]
        reward = torch.where(correct, 1.0, -self.step_reward)
        wrong = ~correct
        self.pos[wrong] = (self.pos[wrong] + _DELTA[moves[wrong]]).clamp(0, SIZE - WINDOW)
        self.revealed |= self._window() & wrong[:, None, None]
        self.t += 1
        truncated = wrong & (self.t >= self.max_steps)
        return self.observation(), reward, correct, truncated
