"""Crawl runs: a run is started by a crawl (or a rebuild), owned by its process, and
finished with its stats; a run whose process died is marked interrupted by the next
crawl on that host. Each function is one transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..lock import Process
from .models import CrawlRun
from .reports import run_report
from .store import utcnow


def start_run(engine: Engine, spider: str, args: dict[str, Any] | None = None, process: Process | None = None,
              warc_dir: Path | None = None) -> int:
    """A new 'running' run, owned by ``process`` (default: this one); ``warc_dir`` is where its
    WARC records go, as this host sees it (fetches' warc_filename is relative to it)."""
    process = process or Process.current()
    with Session(engine) as session, session.begin():
        run = CrawlRun(spider=spider, started_at=utcnow(), status="running", args=args or {},
                       host=process.host, pid=process.pid, pid_start=process.start,
                       warc_dir=str(Path(warc_dir).resolve()) if warc_dir else None)
        session.add(run)
        session.flush()
        return run.id


def finish_run(engine: Engine, run_id: int, status: str, stats: dict[str, Any], reason: str | None = None) -> None:
    with Session(engine) as session, session.begin():
        run = session.get(CrawlRun, run_id)
        run.finished_at = utcnow()
        run.status = status
        run.stats = stats
        run.reason = reason
        run.report = run_report(session.connection(), run_id, stats,
                                (run.finished_at - run.started_at).total_seconds())


def interrupt_stale_runs(engine: Engine, host: str | None = None) -> list[int]:
    """Mark 'interrupted' the running runs of this host whose process is gone (killed);
    a live process's run, another host's, and one recorded without a process are left alone.
    Returns the ids marked."""
    host = host or Process.current().host
    with Session(engine) as session, session.begin():
        running = session.scalars(select(CrawlRun).where(
            CrawlRun.status == "running", CrawlRun.host == host, CrawlRun.pid.is_not(None)))
        stale = [run for run in running if not Process(run.host, run.pid, run.pid_start).is_alive()]
        for run in stale:
            run.status, run.finished_at = "interrupted", utcnow()
            run.reason = f"process {run.pid} on {run.host} ended without finishing the run (killed?)"
        return [run.id for run in stale]
