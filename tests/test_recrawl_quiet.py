"""`archive recrawl` runs several spiders in one reactor: what one spider leaves scheduled
when it closes must not fire into the next one. Its stderr holds no traceback, even when a
close step holds the reactor (tests/stall.py) as a loaded machine does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from crawler import settings as project_settings
from tests.conftest import PROJECT_ROOT


def test_a_recrawl_logs_no_traceback_between_its_spiders(tmp_path):
    extensions = {**project_settings.EXTENSIONS, "tests.stall.StallAtEngineStopped": 999}
    command = [sys.executable, "-m", "crawler.cli", "--archive", f"sqlite:///{tmp_path / 'archive.db'}", "recrawl",
               "--sources", "znews,01net", "--since", "2025-06-01", "-s", "MIRROR_URL=bundled",
               "-s", "AUTOTHROTTLE_ENABLED=False", "-s", f"WARC_DIR={tmp_path / 'warc'}",
               "-s", f"EXTENSIONS={json.dumps(extensions)}"]
    env = {k: v for k, v in os.environ.items() if k != "ARCHIVE_URL"}
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "crawl run 4 (revisit) finished" in result.stderr  # every spider ran, one after another
    assert "Traceback" not in result.stderr and "AlreadyCalledError" not in result.stderr, result.stderr[-3000:]
