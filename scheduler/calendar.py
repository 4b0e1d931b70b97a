"""The institution's calendar: holiday pauses (寒假, 暑假, national holidays) as study days.

Pure Python (no Flask, no database). During a pause no reminders go out, streaks are neither
broken nor extended, and nothing becomes overdue: a card due inside a pause moves to the
first study day after it, spread so that nobody returns to a wall of cards. SM-2 itself
(``scheduler.sm2``) is untouched: only the due day moves, never the interval.

Words used here:

* A **pause** covers whole study days, first and last inclusive.
* Overlapping or adjacent pauses (国庆 10-01..10-07 and a make-up 10-08) act as one: the
  :class:`Calendar` merges them, so "the first study day after a pause" skips chained pauses.
* A person's **usual daily load** (:func:`usual_daily_load`) is how many cards they grade on a
  day they study: the mean of their ``learn`` + ``review`` grades per studied day over the last
  :data:`LOAD_WINDOW_DAYS` days, rounded up, and never below :data:`MIN_DAILY_LOAD` (a deck's
  default new cards a day, so a newcomer or someone back from a long break still gets room).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from .queue import DEFAULT_NEW_PER_DAY

ONE_DAY = timedelta(days=1)
#: Days of review history that define a person's usual daily load.
LOAD_WINDOW_DAYS = 28
#: The usual daily load is never below this (a deck's default new cards per day).
MIN_DAILY_LOAD = DEFAULT_NEW_PER_DAY

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Pause:
    """A holiday: no study expected from ``first`` to ``last`` (study days, both inclusive)."""

    name: str
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"pause {self.name!r} ends ({self.last}) before it starts ({self.first})")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def merge(pauses: Iterable[Pause]) -> list[Pause]:
    """Pauses sorted, with overlapping or adjacent ones joined (their names joined with 、)."""
    merged: list[Pause] = []
    for pause in sorted(pauses, key=lambda p: (p.first, p.last)):
        if merged and pause.first <= merged[-1].last + ONE_DAY:
            head = merged[-1]
            names = head.name.split("、")
            name = head.name if pause.name in names else f"{head.name}、{pause.name}"
            merged[-1] = Pause(name, head.first, max(head.last, pause.last))
        else:
            merged.append(pause)
    return merged


class Calendar:
    """A set of pauses, merged; answers which days are study days."""

    def __init__(self, pauses: Iterable[Pause] = ()) -> None:
        self.pauses: list[Pause] = merge(pauses)
        self._firsts = [p.first for p in self.pauses]

    def __bool__(self) -> bool:
        return bool(self.pauses)

    def __repr__(self) -> str:
        return f"Calendar({self.pauses!r})"

    def pause_on(self, day: date) -> Pause | None:
        """The (merged) pause covering ``day``, or None on a study day."""
        i = bisect.bisect_right(self._firsts, day) - 1
        if i >= 0 and day <= self.pauses[i].last:
            return self.pauses[i]
        return None

    def is_paused(self, day: date) -> bool:
        return self.pause_on(day) is not None

    def study_day_from(self, day: date) -> date:
        """``day`` itself on a study day, else the first study day after its pause (chains skipped:
        the pauses are merged, so the day after a merged pause is never paused)."""
        pause = self.pause_on(day)
        return day if pause is None else pause.last + ONE_DAY

    def first_after(self, pause: Pause) -> date:
        """The first study day after ``pause`` (and after any pause it touches or overlaps)."""
        return self.study_day_from(pause.last + ONE_DAY)

    def shift(self, due: date) -> date:
        """A due day moved out of a pause; a study day stays as it is."""
        return self.study_day_from(due)

    def due(self, review_day: date, interval: int) -> date:
        """The due day of a card graded on ``review_day`` with SM-2 interval ``interval``: review day plus
        interval, moved out of a pause. The interval itself stays exactly SM-2's."""
        return self.shift(review_day + timedelta(days=interval))

    def next_study_day(self, day: date) -> date:
        """The first study day strictly after ``day``."""
        return self.study_day_from(day + ONE_DAY)

    def study_days(self, start: date, end: date) -> int:
        """How many study days lie in [start, end) (0 when end <= start)."""
        if end <= start:
            return 0
        total = (end - start).days
        for pause in self.pauses:
            if pause.first >= end:
                break
            overlap = (min(pause.last + ONE_DAY, end) - max(pause.first, start)).days
            if overlap > 0:
                total -= overlap
        return total

    def paused_days(self, start: date, end: date) -> int:
        """How many paused days lie in [start, end)."""
        return max(0, (end - start).days) - self.study_days(start, end)

    def spread(self, due: Sequence[tuple[K, date]], load: int, already_due: Mapping[date, int],
               today: date) -> dict[K, date]:
        """New due days for the cards of ``due`` (key, due day) that fall inside a pause.

        Each such card goes to the first study day on or after the end of its pause (and not before
        ``today``) that still has room: a day holds at most ``load`` cards, counting the
        ``already_due`` ones that are not moving; the rest go to the following study days. Cards
        are placed oldest due first (ties keep the input order), so their order is kept. Cards on
        study days are left out of the result. ``load`` must be at least 1.
        """
        if load < 1:
            raise ValueError(f"load must be at least 1, got {load}")
        paused = [(key, day) for key, day in due if self.is_paused(day)]
        paused.sort(key=lambda item: item[1])  # stable: ties keep the input order
        placed: dict[date, int] = {}
        moved: dict[K, date] = {}
        day = date.min
        for key, due_day in paused:
            earliest = self.study_day_from(max(self.study_day_from(due_day), today))
            day = max(day, earliest)
            # Terminates: beyond the last already-due day every study day has `load` >= 1 free slots.
            while self.is_paused(day) or already_due.get(day, 0) + placed.get(day, 0) >= load:
                day = self.next_study_day(day)
            placed[day] = placed.get(day, 0) + 1
            moved[key] = day
        return moved

    def place_one(self, due: date, load: int, already_due: Mapping[date, int]) -> date:
        """One freshly graded card whose due day falls in a pause: the first study day after the
        pause with room under ``load`` (``already_due`` counts that day's cards), else ``due``."""
        if not self.is_paused(due):
            return due
        return self.spread([(0, due)], load, already_due, due)[0]


def usual_daily_load(grades_per_studied_day: Iterable[int], floor: int = MIN_DAILY_LOAD) -> int:
    """Mean grades per studied day (days with none are left out), rounded up, at least ``floor``."""
    counts = [n for n in grades_per_studied_day if n > 0]
    if not counts:
        return max(1, floor)
    return max(1, floor, math.ceil(sum(counts) / len(counts)))
