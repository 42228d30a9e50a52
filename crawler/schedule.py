"""When to revisit an archived article: a pure policy, tested with a fake clock.

Frequent while an article is young or has just changed, backing off while it stays
the same (15 min -> 1 h -> 6 h -> 1 d -> 7 d -> 30 d by default); a gone article is
checked rarely; an error retries at the current pace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import settings as defaults  # REVISIT_*: the defaults live in settings.py only

DEFAULT_INTERVALS = tuple(timedelta(minutes=m) for m in defaults.REVISIT_INTERVALS)


@dataclass(frozen=True)
class RevisitPolicy:
    intervals: tuple[timedelta, ...] = DEFAULT_INTERVALS
    # While younger than this (since publication, else first seen), never back off past young_max_step.
    young_age: timedelta = timedelta(hours=defaults.REVISIT_YOUNG_HOURS)
    young_max_step: int = defaults.REVISIT_YOUNG_MAX_STEP
    gone_interval: timedelta = timedelta(days=defaults.REVISIT_GONE_DAYS)

    @classmethod
    def from_minutes(cls, intervals: list, young_hours: float, young_max_step: int, gone_days: float) -> RevisitPolicy:
        """From settings; a bad value is named rather than crashing a cron run later."""
        try:
            steps = tuple(timedelta(minutes=float(m)) for m in intervals)
        except (TypeError, ValueError):
            raise ValueError(f"REVISIT_INTERVALS: expected minutes such as [15, 60, 360], got {intervals!r}") from None
        if not steps or any(s <= timedelta(0) for s in steps):
            raise ValueError(f"REVISIT_INTERVALS: expected positive minutes, got {intervals!r}")
        return cls(steps, timedelta(hours=young_hours), young_max_step, timedelta(days=gone_days))

    def next_visit(self, now: datetime, step: int, outcome: str, born_at: datetime | None) -> tuple[int, datetime]:
        """The article's next step and due time after a visit with this outcome."""
        if outcome == "gone":
            return step, now + self.gone_interval
        if outcome in ("new", "changed"):
            step = 0
        elif outcome in ("unchanged", "not_modified"):
            step = min(step + 1, len(self.intervals) - 1)
        if born_at is not None and now - born_at < self.young_age:
            step = min(step, self.young_max_step)
        return step, now + self.intervals[min(step, len(self.intervals) - 1)]
