"""The archive as a Datasette: descriptions from schema_docs.py (which the README's schema
table is rendered from), the README's example queries as canned queries, search through
articles_fts; and a real Datasette on loopback serving a crawled archive with it."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from crawler.archive.models import Base
from crawler.archive.schema_docs import LATEST_VERSIONS, TABLES, readme_table
from crawler.cli import main
from crawler.datasette import example_queries, metadata
from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_schema_table_is_rendered_from_schema_docs():
    assert readme_table() in README, ("the README's schema table differs from crawler/archive/schema_docs.py: "
                                      "edit schema_docs.py, then paste `python -m crawler.archive.schema_docs`")


def test_every_table_and_column_of_the_models_has_its_words():
    for table in Base.metadata.sorted_tables:
        assert table.name in TABLES, f"table {table.name} is not described in crawler/archive/schema_docs.py"
        described = TABLES[table.name].columns
        assert set(described) == {c.name for c in table.columns}, f"{table.name}: columns differ from the model"
        for column in table.columns:
            keys = column.primary_key or column.foreign_keys
            assert described[column.name] or keys, f"{table.name}.{column.name} has no description"


def test_the_readme_lists_the_view_columns_of_schema_docs():
    paragraph = README.split("View **`latest_versions`**", 1)[1].split("\n\n", 1)[0]
    assert tuple(re.findall(r"`(\w+)`", paragraph)) == LATEST_VERSIONS


def test_every_table_view_and_column_gets_a_description():
    tables = metadata("archive")["databases"]["archive"]["tables"]
    assert tables["alembic_version"] == tables["articles_fts_pending"] == {"hidden": True}
    for name, table in tables.items():
        if table.get("hidden"):
            continue
        assert table["description"], name
        assert table["columns"] and all(table["columns"].values()), name
    assert tables["articles"]["columns"]["source_id"] == "→ sources.id"
    assert tables["latest_versions"]["columns"]["title"] == tables["article_versions"]["columns"]["title"]
    assert (tables["latest_versions"]["fts_table"], tables["latest_versions"]["fts_pk"]) == ("articles_fts", "version_id")


def test_canned_queries_are_the_readmes_example_queries():
    block = README.split("### Example queries", 1)[1].split("```sql\n", 1)[1].split("```", 1)[0]
    queries = example_queries()
    assert len(queries) == len(re.split(r"\n\s*\n", block.strip())) >= 10
    for query in queries.values():
        assert query["sql"].rstrip() in block and query["title"]
    assert queries["what-is-in-the-archive"]["title"] == "What is in the archive, newest publications first"


def test_metadata_as_json_and_yaml(tmp_path, capsys):
    assert main(["--archive", str(tmp_path / "news.db"), "datasette-metadata", "-o", str(tmp_path / "m.json")]) == 0
    data = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert list(data["databases"]) == ["news"]  # Datasette names a database by its file
    yaml = pytest.importorskip("yaml")
    assert main(["--archive", str(tmp_path / "news.db"), "datasette-metadata"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):  # noqa: ANN201
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


@pytest.fixture
def datasette(crawled_archive, tmp_path):
    """Datasette serving a copy of a crawled archive with `archive datasette-metadata`'s file."""
    pytest.importorskip("datasette", reason="pip install -e '.[datasette]'")
    archive = tmp_path / "archive.db"
    shutil.copy(crawled_archive, archive)
    assert main(["--archive", str(archive), "datasette-metadata", "-o", str(tmp_path / "metadata.yml")]) == 0
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "datasette", "serve", str(archive), "-m", "metadata.yml",
                               "-h", "127.0.0.1", "-p", str(port)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # generous: the machine may be busy
        while True:
            try:
                get_json(f"{base}/-/versions.json")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Datasette did not start: {server.stdout.read().decode(errors='replace')[-2000:]}")
                time.sleep(0.3)
        yield f"{base}/archive"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_datasette_serves_the_canned_queries_and_searches(datasette):
    rows = get_json(f"{datasette}/what-is-in-the-archive.json?_shape=array")
    assert rows and {"source", "title", "published_at", "url"} <= set(rows[0])
    assert {row["source"] for row in rows} == {"znews", "dantri", "developpez", "01net", "vietnamvn"}
    database = get_json(f"{datasette}.json")
    assert {q["name"] for q in database["queries"]} == set(example_queries())
    # accents optional, as in `archive search`: "sieu tri tue" finds "siêu trí tuệ"
    found = get_json(f"{datasette}/latest_versions.json?_search=sieu+tri+tue&_shape=array")
    assert found and all("siêu trí tuệ" in (r["title"] + r["summary"] + r["text"]).lower() for r in found)
    table = get_json(f"{datasette}/article_versions.json?_search=zuckerberg&_shape=array")
    assert table and all("zuckerberg" in (r["title"] + r["text"]).lower() for r in table)
