"""Which directory holds a fetch's WARC file, from any host (README "Where WARC files live").

Each run records where it wrote (``crawl_runs.warc_dir``, an absolute path on its host), so
a reader on another host, or in another folder, finds the file without being told (issue 13:
hosts share the WARC storage at one path, an NFS or object-store mount). In order:

1. an explicit directory (``--warc-dir``, ``$WARC_DIR``) wins: the reader said where;
2. else the run's ``warc_dir``, when the file is there (the same host, or a mount at the same path);
3. else the archive's default WARC directory (``warc/`` beside a SQLite archive, …).

A file in none of them is an error naming every place tried.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .repair import OPEN_SUFFIX


class WarcFileMissing(FileNotFoundError):
    """A fetch's WARC file is in none of the places tried; the message names them all."""

    def __init__(self, filename: str, tried: list[Path]):
        super().__init__(f"WARC file {filename} is in none of: {', '.join(str(p) for p in tried)} "
                         "(pass --warc-dir DIR where it is)")
        self.missing_file, self.tried = filename, tried  # not `filename`: OSError would print that alone


@dataclass(frozen=True)
class WarcPlaces:
    default: Path  # the archive's default WARC directory (crawler/archive/db.py default_warc_dir)
    explicit: Path | None = None  # --warc-dir or $WARC_DIR

    @classmethod
    def of(cls, default: Path, given: str | Path | None = None) -> WarcPlaces:
        """The places of an archive whose default is ``default``; ``given``: --warc-dir, else $WARC_DIR."""
        given = given or os.environ.get("WARC_DIR")
        return cls(Path(default), Path(given) if given else None)

    def tried(self, run_dir: str | None) -> list[Path]:
        """Where a file of a run that wrote to ``run_dir`` is looked for, in order."""
        if self.explicit is not None:
            return [self.explicit]
        return list(dict.fromkeys([*([Path(run_dir)] if run_dir else []), self.default]))

    def directory(self, filename: str, run_dir: str | None) -> Path:
        """The directory holding ``filename`` (closed, or still ``.open``); WarcFileMissing when none does."""
        tried = self.tried(run_dir)
        for place in tried:
            if (place / filename).exists() or (place / (filename + OPEN_SUFFIX)).exists():
                return place
        raise WarcFileMissing(filename, tried)

    def directories(self, run_dirs: list[str | None]) -> list[Path]:
        """Every directory an archive's runs may have written to that exists here (the
        explicit one alone when given), the default last; the default when none exists."""
        if self.explicit is not None:
            return [self.explicit]
        found = [Path(d).resolve() for d in dict.fromkeys(run_dirs) if d and Path(d).is_dir()]
        places = list(dict.fromkeys([*found, *([self.default.resolve()] if self.default.is_dir() else [])]))
        return places or [self.default]
