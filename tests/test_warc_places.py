"""WARC records resolvable from any host (issue 13 item 4): a run records where it wrote
(crawl_runs.warc_dir), and `archive reextract`, `doctor` and `cdxj` find the files there from
any folder without --warc-dir; --warc-dir (or $WARC_DIR) wins; a file in none of the places
is one line naming every place tried."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.warc.locate import WarcFileMissing, WarcPlaces
from tests.conftest import PROJECT_ROOT, query, run_crawl


@pytest.fixture(scope="module")
def elsewhere(mirror, tmp_path_factory) -> tuple[Path, Path]:
    """An archive whose crawl wrote its WARC files to A, not beside the archive."""
    root = tmp_path_factory.mktemp("places")
    archive, warc = root / "db" / "archive.db", root / "A"
    archive.parent.mkdir()
    run_crawl(mirror.url, archive, "-s", f"WARC_DIR={warc}", "-a", "sources=znews")
    assert list(warc.glob("*.warc.gz")) and not (archive.parent / "warc").exists()
    return archive, warc


def archive_cli(archive: Path, cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("ARCHIVE_URL", "WARC_DIR")} | (env or {})
    environment["PYTHONPATH"] = str(PROJECT_ROOT)
    return subprocess.run([sys.executable, "-m", "crawler.cli", "-q", "--archive", str(archive), *args], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=300)


def test_the_run_says_where_it_wrote(elsewhere):
    archive, warc = elsewhere
    assert {row[0] for row in query(archive, "SELECT warc_dir FROM crawl_runs")} == {str(warc.resolve())}


def test_readers_find_the_files_where_the_run_wrote_them_from_another_folder(elsewhere, tmp_path):
    archive, warc = elsewhere
    doctor = archive_cli(archive, tmp_path, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    cdxj = archive_cli(archive, tmp_path, "cdxj", "--output", str(tmp_path / "index.cdxj"))
    assert cdxj.returncode == 0, cdxj.stderr
    assert "znews.vn" in (tmp_path / "index.cdxj").read_text(encoding="utf-8")
    reextract = archive_cli(archive, tmp_path, "reextract")
    assert reextract.returncode == 0 and "re-extracted" in reextract.stdout, reextract.stderr
    assert "failed" not in reextract.stdout and " unchanged" in reextract.stdout, reextract.stdout


def test_an_explicit_warc_dir_wins_and_a_missing_file_names_every_place(elsewhere, tmp_path):
    archive, warc = elsewhere
    empty = tmp_path / "empty"
    empty.mkdir()
    doctor = archive_cli(archive, tmp_path, "doctor", "--warc-dir", str(empty))
    assert doctor.returncode == 1 and f"is missing from {empty}: " in doctor.stdout
    reextract = archive_cli(archive, tmp_path, "reextract", env={"WARC_DIR": str(empty)})
    assert reextract.returncode == 1 and reextract.stderr.count("\n") == 1
    assert reextract.stderr.startswith("archive: WARC file ") and str(empty) in reextract.stderr


def test_the_order_of_places(tmp_path):
    run_dir, default, given = tmp_path / "run", tmp_path / "default", tmp_path / "given"
    for place in (run_dir, default, given):
        place.mkdir()
    (default / "f.warc.gz").write_bytes(b"")
    places = WarcPlaces(default)
    assert places.directory("f.warc.gz", str(run_dir)) == default  # not where the run wrote: the default
    (run_dir / "f.warc.gz").write_bytes(b"")
    assert places.directory("f.warc.gz", str(run_dir)) == run_dir  # where the run wrote, first
    with pytest.raises(WarcFileMissing) as missing:
        WarcPlaces(default, given).directory("f.warc.gz", str(run_dir))  # the explicit one only
    assert missing.value.tried == [given]
    with pytest.raises(WarcFileMissing) as missing:
        places.directory("g.warc.gz", str(run_dir))
    assert str(run_dir) in str(missing.value) and str(default) in str(missing.value)
