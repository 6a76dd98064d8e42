"""Cost of a stage run: seconds per frame per stage, the up-front time estimate, and the progress bar text."""
from __future__ import annotations

import time


def format_seconds(seconds: float) -> str:
    """0.42 -> '0.42 s', 75 -> '1 min 15 s', 4000 -> '1 h 06 min'."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class StageClock:
    """Wall-clock seconds spent in each named part of a stage run (each stage, and the smoothing flows)."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        self.total = {name: 0.0 for name in self.names}
        self.first = {name: 0.0 for name in self.names}    # the first frame's seconds (with one-off warm-up)
        self.second = {name: 0.0 for name in self.names}   # the second frame's: a later frame
        self.frames = 0
        self._started = None

    def start(self) -> None:
        self._started = time.perf_counter()

    def stop(self, name: str) -> None:
        """Add the time since start() to `name` (and to its first-frame time while on frame 0)."""
        seconds = time.perf_counter() - self._started
        self.total[name] = self.total.get(name, 0.0) + seconds
        if self.frames < 2:
            kept = self.first if self.frames == 0 else self.second
            kept[name] = kept.get(name, 0.0) + seconds
        self._started = time.perf_counter()

    def frame_done(self) -> None:
        self.frames += 1

    def per_frame(self) -> dict[str, float]:
        """Mean seconds per frame of each part so far (the first frame included)."""
        n = max(self.frames, 1)
        return {name: seconds / n for name, seconds in self.total.items()}

    def summary(self) -> str:
        """Progress-bar text, e.g. 'dream 0.31 s/f | style 0.04 s/f | smoothing 0.02 s/f'."""
        return " | ".join(f"{name} {seconds:.2f} s/f" for name, seconds in self.per_frame().items())

    def estimate(self, shares: dict[str, float], total: int | None) -> str:
        """One line after the first or second frame: that frame's cost per part and the expected time of the
        frames still to come (after the first frame: its cost scaled by each stage's later-frame share,
        Stage.later_frame_share; after the second, a later frame itself, that frame's cost)."""
        which, kept = ("first", self.first) if self.frames <= 1 else ("second", self.second)
        spent = sum(kept.values())
        if which == "first":
            later = sum(seconds * shares.get(name, 1.0) for name, seconds in kept.items())
        else:
            later = spent
        parts = ", ".join(f"{name} {format_seconds(s)}" for name, s in kept.items() if s >= 0.005)
        line = (f"stages: {which} frame took {format_seconds(spent)} ({parts}); expected "
                f"{format_seconds(later)} per later frame")
        left = None if total is None else total - self.frames
        if left is not None and left > 0:
            line += f", about {format_seconds(later * left)} for the other {left} frames"
        elif left is None:
            line += f" (about {format_seconds(later * 100)} per 100 frames)"
        return line
