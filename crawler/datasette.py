"""Datasette metadata for the archive: `datasette archive.db -m metadata.yml` browses it.

Nothing here is written twice: table and column descriptions come from
crawler/archive/schema_docs.py (which the README's schema table is rendered from), and the
canned queries are the README's "Example queries", read from the README itself, each
titled by its comment. Full-text search on ``latest_versions`` and ``article_versions``
goes through ``articles_fts`` (its rowid is ``article_versions.id``).
"""

from __future__ import annotations

import json
import re
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any, TextIO

from .archive.models import Base
from .archive.schema_docs import FTS, LATEST_VERSIONS, TABLES, VIEWS, column_description

README = Path(__file__).resolve().parent.parent / "README.md"
PACKAGE = "news-archive-crawler"
# tables Datasette need not list: Alembic's bookkeeping, the versions a store has not yet indexed
HIDDEN = ("alembic_version", "articles_fts_pending")
# where Datasette's table search looks: the FTS rowid is the version's id
SEARCHABLE = {"latest_versions": "version_id", "article_versions": "id"}


def metadata(database: str = "archive") -> dict[str, Any]:
    """Datasette metadata (0.6x ``-m`` format) for an archive opened as ``database``."""
    return {
        "title": "News archive",
        "description": "Every archived version of every article, its visits, links and crawl runs "
                       "(news-archive-crawler). Times are UTC.",
        "databases": {database: {"tables": _tables(), "queries": example_queries()}},
    }


def _tables() -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for name in Base.metadata.tables:
        doc = TABLES.get(name)
        tables[name] = {"description": f"One row per {doc.row}." if doc else "",
                        "columns": {c.name: column_description(name, c.name) if doc else ""
                                    for c in Base.metadata.tables[name].columns}}
    for name, row in VIEWS.items():
        tables[name] = {"description": f"View: {row}.",
                        "columns": {c: column_description(name, c) for c in LATEST_VERSIONS}}
    for name, (description, columns) in FTS.items():
        tables[name] = {"description": description[:1].upper() + description[1:] + ".",
                        "columns": {c: column_description(name, c) for c in columns}}
    for name, pk in SEARCHABLE.items():
        tables[name].update(fts_table=next(iter(FTS)), fts_pk=pk)
    tables.update({name: {"hidden": True} for name in HIDDEN})
    return tables


def example_queries(readme: str | None = None) -> dict[str, dict[str, str]]:
    """The README's "Example queries" as canned queries: {name: {title, sql[, description]}}."""
    queries = {}
    for comment, sql in readme_examples(readme if readme is not None else readme_text()):
        title = comment.split(": ", 1)[0]  # a comment may go on to say why the query is written so
        queries[_slug(title)] = {"title": title, "sql": sql, **({"description": comment} if comment != title else {})}
    return queries


def readme_examples(readme: str) -> list[tuple[str, str]]:
    """(comment, SQL) of each query in README "Example queries", as written (bench/query.py times them)."""
    section = readme.split("### Example queries", 1)[1]
    block = re.search(r"```sql\n(.*?)```", section, flags=re.S).group(1)
    examples = []
    for chunk in re.split(r"\n\s*\n", block.strip()):
        lines = chunk.splitlines()
        comment = " ".join(line[2:].strip() for line in lines if line.startswith("--"))
        sql = "\n".join(line for line in lines if not line.startswith("--")).strip().rstrip(";")
        examples.append((comment, sql))
    return examples


def readme_text() -> str:
    """The README: beside the package in a checkout, else the installed package's description."""
    if README.is_file():
        return README.read_text(encoding="utf-8")
    return package_metadata.metadata(PACKAGE).get_payload()  # type: ignore[no-any-return]


def _slug(title: str) -> str:
    """A URL name from a query's title up to its first comma, colon or bracket."""
    head = re.split(r"[,:(]", title, maxsplit=1)[0]
    return re.sub(r"[^a-z0-9]+", "-", head.lower()).strip("-")


def write_metadata(data: dict[str, Any], out: TextIO, as_yaml: bool = True) -> None:
    """YAML (SQL as literal blocks) when PyYAML is there, else JSON, which YAML readers read too."""
    try:
        import yaml
    except ImportError:
        as_yaml = False
    if not as_yaml:
        json.dump(data, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    yaml.dump(data, out, Dumper=Dumper, allow_unicode=True, sort_keys=False, width=110)
