"""What a caller hears, laid out in time: sounds sent to the carrier, which plays them in
order, in real time, so the caller's silence is the gaps in that playout. Shared by the
engine-level line (``call_line``) and the carrier-level one (``phone_line``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.virtual_clock import VirtualClock


@dataclass(frozen=True, slots=True)
class Sound:
    sent_at_s: float
    seconds: float
    what: str  # "agent", a cue's name, or "apology"


class HeardSounds:
    """Readings of ``sounds`` (in the order sent) as the caller hears them."""

    sounds: list[Sound]

    def playout(self) -> list[tuple[float, float, str]]:
        """(start, end, what) of each sound as the carrier plays them: in order, back to back."""
        played: list[tuple[float, float, str]] = []
        end_s = 0.0
        for sound in self.sounds:
            start_s = max(sound.sent_at_s, end_s)
            end_s = start_s + sound.seconds
            played.append((start_s, end_s, sound.what))
        return played

    def heard(self, what: str, after_s: float = 0.0) -> float | None:
        """When the caller starts hearing the first ``what`` sent after ``after_s``, or None."""
        return next(
            (
                start
                for (start, _, kind), sound in zip(self.playout(), self.sounds, strict=True)
                if kind == what and sound.sent_at_s >= after_s
            ),
            None,
        )

    def heard_behind(self, what: str, behind: str, after_s: float = 0.0) -> float | None:
        """When the caller starts hearing the first ``what`` sent behind (after, in order) the
        first ``behind`` sent after ``after_s``: the reply that follows a holding line."""
        seen = False
        for (start, _, kind), sound in zip(self.playout(), self.sounds, strict=True):
            seen = seen or (kind == behind and sound.sent_at_s >= after_s)
            if seen and kind == what:
                return start
        return None

    def longest_silence(self, from_s: float, until_s: float | None = None) -> float:
        """The longest stretch with nothing playing between ``from_s`` and ``until_s`` (by
        default: the apology's start, or the last sound's end)."""
        played = [p for p in self.playout() if p[1] > from_s]
        if until_s is None:
            apology = self.heard("apology")
            until_s = apology if apology is not None else (played[-1][1] if played else from_s)
        longest, cursor = 0.0, from_s
        for start_s, end_s, _ in played:
            if start_s >= until_s:
                break
            longest = max(longest, start_s - cursor)
            cursor = max(cursor, end_s)
        return max(longest, until_s - cursor)

    def kinds(self) -> list[str]:
        """The sounds in order, each run of one kind collapsed."""
        kinds: list[str] = []
        for sound in self.sounds:
            if not kinds or kinds[-1] != sound.what:
                kinds.append(sound.what)
        return kinds


class SteppedLine:
    """A line moved 20 ms a ``step()`` on ``clock`` until it is ``over``; both lines wait the
    same way for a condition, so a test reads the same on either."""

    clock: VirtualClock

    @property
    def over(self) -> bool:
        raise NotImplementedError

    async def step(self) -> None:
        raise NotImplementedError

    async def run_until(self, ready: Callable[[], bool], limit_s: float) -> float:
        """Step until ``ready()`` (or the call is over); the clock time then."""
        until_s = self.clock.monotonic() + limit_s
        while not ready() and not self.over:
            assert self.clock.monotonic() < until_s, "waited past the limit"
            await self.step()
        return self.clock.monotonic()
