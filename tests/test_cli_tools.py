"""Progress bars on a terminal and never in a pipe, `archive --version`, coloured `archive diff`
(issue 12 item 5). The terminal is a pseudo-terminal (tests/terminal.py)."""

import io
import os
import re
import subprocess
import sys

import pytest

from crawler.archive.migrate import head_revision
from crawler.cli import main
from crawler.diffcolor import GREEN, RED, plain, wants_colour
from crawler.progress import progress
from tests.conftest import PROJECT_ROOT
from tests.terminal import run_in_terminal
from tests.test_cli import ZNEWS, archive_url  # noqa: F401 - archive_url: an archive of versions to diff
from tests.test_doctor import archive  # noqa: F401 - a copy of the crawled archive, to write to

BAR = re.compile(r"\d+%\|")  # tqdm's "  0%|" / "100%|"


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHIVE_URL", "NO_COLOR", "TERM")}
    return {**env, "TERM": "xterm", **extra}


def archive_command(db, *args) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", "--archive", str(db), *args]


def in_terminal(db, *args, **env) -> tuple[int, str]:
    return run_in_terminal(archive_command(db, *args), cwd=PROJECT_ROOT, env=environment(**env))


def piped(db, *args) -> subprocess.CompletedProcess:
    return subprocess.run(archive_command(db, *args), cwd=PROJECT_ROOT, env=environment(), capture_output=True,
                          text=True, encoding="utf-8", timeout=240)


# -- the helper ------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_the_iterable_itself_off_a_terminal_or_when_quiet(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    items = [1, 2, 3]
    assert progress(items, stream=io.StringIO()) is items
    assert progress(items, stream=Terminal(), quiet=True) is items
    counted = []
    assert list(progress(items, total=lambda: counted.append(1) or 3, stream=io.StringIO())) == items
    assert counted == []  # the total is never counted for a bar nobody sees
    monkeypatch.setenv("NO_COLOR", "1")
    assert progress(items, stream=Terminal()) is items


def test_progress_draws_on_a_terminal_and_wipes_its_bar(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    screen = Terminal()
    assert list(progress(iter([1, 2, 3]), total=lambda: 3, description="things", stream=screen)) == [1, 2, 3]
    assert "things:" in screen.getvalue() and "/3" in screen.getvalue()
    assert screen.getvalue().endswith("\r")  # wiped: what stays on screen is the command's own output


# -- the commands ------------------------------------------------------------------------
# One terminal run per case (each starts an interpreter); the no-terminal side runs in-process,
# where capsys's streams are no terminal, as under cron.


def run(db, capsys, *args) -> tuple[int, str, str]:
    status = main(["--archive", str(db), *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_reextract_shows_a_bar_on_a_terminal_and_nothing_extra_off_it(archive, capsys):
    status, screen = in_terminal(archive, "reextract")
    assert status == 0, screen
    assert "articles:" in screen and BAR.search(screen)
    assert re.search(r"re-extracted \d+ article\(s\)", screen)
    status, out, err = run(archive, capsys, "reextract")
    assert status == 0 and err == ""
    assert re.fullmatch(r"re-extracted \d+ article\(s\): \d+ unchanged \([\d.]+ pages/s\)\n", out)


def test_cdxj_shows_a_bar_on_a_terminal_unless_quiet_and_writes_the_same_index(archive, tmp_path, capsys):
    status, screen = in_terminal(archive, "cdxj", "--output", str(tmp_path / "tty.cdxj"))
    assert status == 0 and "WARC files:" in screen and BAR.search(screen)
    status, screen = in_terminal(archive, "cdxj", "--quiet", "--output", str(tmp_path / "quiet.cdxj"))
    assert status == 0 and "WARC files:" not in screen and not BAR.search(screen)
    assert screen == f"wrote {len((tmp_path / 'quiet.cdxj').read_text().splitlines())} CDXJ line(s) " \
                     f"to {tmp_path / 'quiet.cdxj'}\r\n"
    status, out, err = run(archive, capsys, "cdxj", "--output", str(tmp_path / "pipe.cdxj"))
    assert status == 0 and err == "" and out.startswith("wrote ")
    assert (tmp_path / "tty.cdxj").read_bytes() == (tmp_path / "pipe.cdxj").read_bytes()


def test_quiet_is_taken_before_and_after_the_command():
    from crawler.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["-q", "cdxj"]).quiet and parser.parse_args(["cdxj", "--quiet"]).quiet
    assert not parser.parse_args(["cdxj"]).quiet


def test_export_bar_only_when_the_lines_do_not_go_to_that_terminal(archive, tmp_path):
    status, screen = in_terminal(archive, "export", "--output", str(tmp_path / "tty.jsonl"))
    assert status == 0 and "versions:" in screen and BAR.search(screen)
    status, screen = in_terminal(archive, "export")  # the lines themselves on the terminal: no bar among them
    assert status == 0 and "versions:" not in screen and not BAR.search(screen)
    result = piped(archive, "export")  # a real pipe, as `archive export | gzip` under cron
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == (tmp_path / "tty.jsonl").read_text(encoding="utf-8")


def test_version_names_the_package_and_the_schema_head(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert re.fullmatch(rf"archive \(news-archive-crawler\) \d+\.\d+\.\d+\S*, archive schema head {head_revision()}\n",
                        capsys.readouterr().out)


# -- archive diff in colour ------------------------------------------------------------------


def diff(url, capsys, *args):
    status = main(["--archive", url, "diff", ZNEWS.url, *args])
    return status, capsys.readouterr().out


def test_diff_colours_on_demand_and_is_the_plain_diff_without_its_escapes(archive_url, capsys, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    _, never = diff(archive_url, capsys, "1", "2", "--color", "never")
    status, always = diff(archive_url, capsys, "1", "2", "--color", "always")
    assert status == 0 and always != never
    assert f"{RED}[-AI.-]" in always and f"{GREEN}{{+trí tuệ nhân tạo.+}}" in always
    assert plain(always) == never
    assert diff(archive_url, capsys, "1", "2")[1] == never  # auto, and capsys is no terminal


def test_diff_in_colour_on_a_terminal(archive_url):
    status, screen = in_terminal(archive_url.removeprefix("sqlite:///"), "diff", ZNEWS.url, "1", "2")
    assert status == 0 and f"{RED}[-AI.-]" in screen and f"{GREEN}{{+trí tuệ nhân tạo.+}}" in screen


def test_auto_colour_means_a_terminal_without_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert wants_colour("auto", Terminal()) and not wants_colour("auto", io.StringIO())
    assert wants_colour("always", io.StringIO()) and not wants_colour("never", Terminal())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_colour("auto", Terminal()) and wants_colour("always", Terminal())
