"""A scripted stand-in for ale_py.ALEInterface: known rewards, life losses and screens per frame."""

from __future__ import annotations


class FakeALE:
    """Frame f (1-based since the last reset_game) shows a 210×160 screen filled with (f·7) % 256 (plus
    `flicker` on odd frames); `rewards[f]` is paid at frame f; a life is lost at each frame in
    `life_loss_frames`; the game is over when the lives reach 0."""

    def __init__(
        self, rewards=None, life_loss_frames=(), lives=3, modes=(0, 1), difficulties=(0,), flicker=0
    ):
        self.rewards, self.life_loss_frames = dict(rewards or {}), set(life_loss_frames)
        self.start_lives, self.modes, self.difficulties, self.flicker = lives, modes, difficulties, flicker
        self.actions: list[int] = []
        self.resets = 0
        self.mode = None
        self.reset_game()

    def reset_game(self):
        self.frame, self._lives = 0, self.start_lives
        self.resets += 1

    def act(self, action):
        self.actions.append(int(action))
        self.frame += 1
        if self.frame in self.life_loss_frames:
            self._lives -= 1
        return float(self.rewards.get(self.frame, 0.0))

    def game_over(self):
        return self._lives <= 0

    def lives(self):
        return self._lives

    def screen_value(self, frame: int) -> int:
        return (frame * 7 + (self.flicker if frame % 2 else 0)) % 256

    def getScreenGrayscale(self, out):  # noqa: N802 (ALE's name)
        out[...] = self.screen_value(self.frame)

    def getScreenDims(self):  # noqa: N802
        return (210, 160)

    def getMinimalActionSet(self):  # noqa: N802
        return [0, 1, 2]

    def getLegalActionSet(self):  # noqa: N802
        return list(range(18))

    def getAvailableModes(self):  # noqa: N802
        return list(self.modes)

    def getAvailableDifficulties(self):  # noqa: N802
        return list(self.difficulties)

    def setMode(self, m):  # noqa: N802
        self.mode = m

    def setDifficulty(self, d):  # noqa: N802
        self.difficulty = d


def fake_env(ale: FakeALE, **kwargs):
    from replab.envs.atari import AtariEnv

    kwargs.setdefault("noop_max", 0)
    return AtariEnv("Fake", ale_factory=lambda seed: ale, **kwargs)
