"""The start method of our helper processes (extraction workers, the WARC writer): spawn,
without re-running the parent's main script.

Forking a process that runs a Twisted reactor is not safe, so they are spawned. Spawn
re-runs the parent's ``__main__`` in the child unless it is a package's ``__main__``
(``python -m scrapy``): started as the ``scrapy`` console script (README, cron), every child
ran that script's ``from scrapy.cmdline import execute`` and imported all of Scrapy and
Twisted (~0.2 s of CPU and ~25 MB per child) for functions that live in ``crawler.*`` and
are pickled by reference. The children here need nothing from ``__main__``, so it is not
named to them.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Iterator

_MAIN_NAMES = ("__file__", "__spec__")


@contextmanager
def _main_unnamed() -> Iterator[None]:
    """``__main__`` without the attributes spawn reads to re-run it in the child."""
    main = sys.modules["__main__"]
    saved = {name: getattr(main, name) for name in _MAIN_NAMES if hasattr(main, name)}
    for name in saved:
        delattr(main, name)
    main.__spec__ = None  # spawn's get_preparation_data reads it unconditionally
    try:
        yield
    finally:
        for name in _MAIN_NAMES:
            if name in saved:
                setattr(main, name, saved[name])
            elif hasattr(main, name):
                delattr(main, name)


class _Process(SpawnProcess):
    @staticmethod
    def _Popen(process_obj):  # noqa: ANN001, ANN205, N802 - multiprocessing's hook
        with _main_unnamed():
            return SpawnProcess._Popen(process_obj)


class _Context(SpawnContext):
    Process = _Process


def spawn_context() -> SpawnContext:
    """The multiprocessing context for ``ProcessPoolExecutor(mp_context=…)``."""
    return _Context()
