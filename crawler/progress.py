"""Progress bars for the long `archive` commands: on a terminal only.

Cron mails whatever a job prints, so a bar must never reach a pipe or a file: with stderr
not a terminal, ``--quiet``, ``NO_COLOR`` set (https://no-color.org: plain output asked for)
or ``TERM=dumb``, :func:`progress` hands the iterable back untouched and prints nothing.
On a terminal the bar goes to stderr (tqdm) and is wiped when done, so what stays on the
screen is what the command printed without it.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Callable, Iterable, TypeVar

T = TypeVar("T")


def shows_progress(stream: IO[str] | None = None, quiet: bool = False) -> bool:
    """Whether a bar would be drawn on ``stream`` (default: stderr)."""
    stream = stream or sys.stderr
    if quiet or "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


def progress(iterable: Iterable[T], total: int | Callable[[], int] | None = None, description: str = "",
             stream: IO[str] | None = None, quiet: bool = False, unit: str = "it") -> Iterable[T]:
    """``iterable``, drawing a bar on a terminal as it is consumed. ``total`` may be a
    function, called only when a bar is drawn (a COUNT query cron never pays for);
    None takes ``len(iterable)`` when it has one."""
    stream = stream or sys.stderr
    if not shows_progress(stream, quiet):
        return iterable
    from tqdm import tqdm

    if callable(total):
        total = total()
    return tqdm(iterable, total=total, desc=description, file=stream, unit=unit, leave=False,
                dynamic_ncols=True)


def tracker(description: str, quiet: bool = False, unit: str = "it") -> Callable[[Iterable[T]], Iterable[T]]:
    """``progress`` with its labels bound, for code that takes a ``track`` function and
    should not know about terminals (reextract, export)."""
    return lambda iterable: progress(iterable, description=description, quiet=quiet, unit=unit)
