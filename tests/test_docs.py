"""The README is the user interface of settings, schema and commands: keep it true."""

import re

from crawler import settings
from crawler.archive.models import Base
from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
OUR_PREFIXES = ("ARCHIVE_", "MIRROR_", "SOURCES_", "EXTRACT_", "REVISIT_", "WARC_", "CITED_", "DISCOVER_",
                "RECRAWL_", "RUN_", "CONTACT_", "RETRY_BACKOFF_", "ROBOTSTXT_MAX_", "HEALTH_",
                "FRONTIER_")


def code_blocks() -> list[str]:
    return re.findall(r"```(?:sh|bash)?\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_install_and_run_then_test_command():
    first, second = code_blocks()[:2]
    assert "pip install" in first and "scrapy crawl sources" in first
    assert "pip install" in second and "pytest" in second


def test_ci_runs_exactly_the_readme_test_command():
    ci = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert code_blocks()[1].strip() in ci


def test_every_project_setting_is_documented_with_its_default():
    ours = [name for name in dir(settings) if name.startswith(OUR_PREFIXES)]
    assert ours
    for name in ours:
        row = next((line for line in README.splitlines() if line.startswith(f"| `{name}`")), None)
        assert row is not None, f"setting {name} missing from the README settings table"
        assert "Default:" in row, f"setting {name} has no Default: in the README"


def test_every_table_and_column_is_documented():
    for table in Base.metadata.sorted_tables:
        row = next((line for line in README.splitlines() if line.startswith(f"| `{table.name}`")), None)
        assert row is not None, f"table {table.name} missing from the README schema"
        for column in table.columns:
            assert f"`{column.name}`" in row, f"{table.name}.{column.name} missing from the README schema"


def test_every_cli_command_is_documented():
    import argparse

    from crawler.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert commands
    for name in commands:
        assert f"| `archive {name}" in README, f"`archive {name}` missing from the README command table"


def readme_default(name: str) -> str | None:
    """The README settings table's ``Default:`` of a setting, when it is a value in
    backticks (some defaults are described: "the project's URL")."""
    row = next(line for line in README.splitlines() if line.startswith(f"| `{name}`"))
    found = re.search(r"Default: `([^`]*)`", row)
    if found is None:
        return "" if re.search(r"Default: empty\b", row) else None
    return found.group(1)


def test_the_readme_defaults_are_the_defaults_in_settings_py():
    """settings.py holds each default, once; the README's table says the same."""
    import ast

    for name in (n for n in dir(settings) if n.startswith(OUR_PREFIXES)):
        value, shown = getattr(settings, name), readme_default(name)
        if value is None or (shown is None and isinstance(value, str)):
            continue  # described in words: None means "derived" (the README says from what)
        assert shown is not None, f"{name}: the README gives no `value` as its Default"
        read = shown if isinstance(value, str) else ast.literal_eval(shown)
        assert read == value, f"{name}: README says Default: {shown!r}, crawler/settings.py says {value!r}"
