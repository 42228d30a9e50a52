"""archive: read the news archive from the command line.

One function per command; each takes the parsed arguments and the open archive, prints,
and returns the exit status. User mistakes raise CliError and end as one line on stderr
that says what to do next: exit 1 when what was asked for is not there (no archive, no
such article), exit 2 when the command itself is wrong (bad version number, empty search),
as argparse does for bad options.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import Engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from .archive.db import archive_url, create_archive_engine, create_readonly_engine, default_warc_dir
from .archive.migrate import SchemaNotCurrent, backup_sqlite, current_revision, head_revision, revisions
from .archive.migrate import upgrade as upgrade_schema
from .diffcolor import CHOICES as COLOR_CHOICES
from .diffcolor import colour, wants_colour
from .doctor import diagnose
from .export import count_versions
from .export import versions as export_versions
from .export import write_cdxj, write_csv, write_jsonl
from .recrawl import RecrawlOptions
from .recrawl import run as run_recrawl
from .reextract import rebuild as rebuild_archive
from .reextract import reextract as reextract_archive
from .progress import progress, tracker
from .warc.locate import WarcFileMissing, WarcPlaces
from .archive.models import ArticleLink, ArticleRow, ArticleVersion, CrawlRun, SourceRow
from .archive.search import latest_versions, search as search_archive
from .archive.readers import article_for, links_of, versions_of
from .archive.store import Archive, display_name
from .dedup import word_diff

EXAMPLE_URL = "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html"
# fields of a version that show (and differ) apart from the text
META_FIELDS = ("title", "authors", "published_at", "modified_at", "language", "section", "tags", "summary",
               "cited_url")
LINK_PHRASES = {"duplicate_of": "is a duplicate of", "cites": "cites", "translation_of": "is a translation of"}


class CliError(Exception):
    """A user error: printed as one line, no traceback."""

    code = 1


class UsageError(CliError):
    code = 2


# -- commands ----------------------------------------------------------------------


def history(args: argparse.Namespace, archive: Archive) -> int:
    """List the versions of an article: when, title, how much changed."""
    article, versions = _article(archive, args.url)
    if args.json:
        return _print_json({**_article_json(archive, article), "versions": [_version_summary(v) for v in versions]})
    print(f"{article.url}  ({_source_name(archive, article.source_id)}, {_plural(len(versions), 'version')})")
    width = min(max(len(v.title) for v in versions), 60)
    for v in versions:
        same = f"  same as v{v.same_as_version}" if v.same_as_version else ""
        print(f"v{v.version:<3} {iso(v.fetched_at)}  {_clip(v.title, width):<{width}}  "
              f"words +{v.words_added}/-{v.words_removed}  chars +{v.chars_added}/-{v.chars_removed}{same}")
    if article.gone_at:
        print(f"gone since {iso(article.gone_at)} (the page answered 404/410)")
    return 0


def diff(args: argparse.Namespace, archive: Archive) -> int:
    """Show what changed between two versions of an article, word by word."""
    article, versions = _article(archive, args.url)
    if len(versions) == 1 and not args.versions:
        print(f"{article.url} has one version: nothing to compare yet")
        return 0
    old, new = _pick_pair(versions, args.versions)
    text = "".join(f"{line}\n" for line in _meta_changes(old, new))
    text += word_diff(old.text, new.text, _label(old), _label(new))
    print(colour(text) if wants_colour(args.color, sys.stdout) else text, end="")
    return 0


def show(args: argparse.Namespace, archive: Archive) -> int:
    """Print one version of an article (default: the newest), metadata then text."""
    article, versions = _article(archive, args.url)
    version = _pick(versions, args.version) if args.version is not None else versions[-1]
    if args.json:
        return _print_json({**_article_json(archive, article), **_version_json(version), "version_count": len(versions)})
    fields = {"title": version.title, "url": article.url, "source": _source_name(archive, article.source_id),
              "version": f"{version.version} of {len(versions)}, fetched {iso(version.fetched_at)}",
              **{name: _text(getattr(version, name)) for name in META_FIELDS if name != "title"}}
    if article.gone_at:
        fields["gone_at"] = iso(article.gone_at)
    for name, value in fields.items():
        if value:
            print(f"{name + ':':<14}{value}")
    print(f"\n{version.text}")
    return 0


def search(args: argparse.Namespace, archive: Archive) -> int:
    """Full-text search of the newest version of every article."""
    if args.source is not None:
        _check_source(archive, args.source)
    try:
        hits = search_archive(archive, args.terms, source=args.source, limit=args.limit)
    except ValueError as exc:
        raise UsageError(f"{exc}: give one or more words, e.g. archive search \"thế giới\"") from None
    if args.json:
        return _print_json([asdict(hit) for hit in hits])
    if not hits:
        print(f"no article matches {args.terms!r}", file=sys.stderr)
    for hit in hits:
        date = iso(hit.published_at)[:10] if hit.published_at else "----------"
        print(f"{date}  {hit.source:<10}  {hit.title}\n  {hit.url}\n  {hit.snippet}\n")
    return 0


def links(args: argparse.Namespace, archive: Archive) -> int:
    """List the articles this one duplicates, cites or translates, and those that do so to it."""
    article, _ = _article(archive, args.url)
    found = links_of(archive, args.url)
    others = _latest(archive, {_other_id(link, article.id) for link in found})
    rows = [_link_json(link, article.id, others) for link in found]
    if args.json:
        return _print_json(rows)
    if not rows:
        print(f"no links: no archived article duplicates, cites or translates {article.url}, nor it another")
    for row in rows:
        phrase = LINK_PHRASES[row["kind"]]
        line = f"this {phrase} {row['url']}" if row["direction"] == "outgoing" else f"{row['url']} {phrase} this"
        print(f"{line}\n    {row['title']}  ({row['source']}; {row['kind']}, score {row['score']:.2f}, "
              f"detected {row['detected_at']})")
    return 0


def reextract(args: argparse.Namespace, archive: Archive) -> int:
    """Re-run extraction over the archived raw pages (WARC), without the network."""
    try:
        return _reextract(args, archive)
    except WarcFileMissing as exc:
        raise CliError(str(exc)) from None


def _reextract(args: argparse.Namespace, archive: Archive) -> int:
    since = _date_option(args.since)
    places = _warc_places(args, archive.engine)
    if args.into:
        target = Archive.open(args.into, warc_dir=archive.warc_dir)
        try:
            counts = rebuild_archive(archive, target, tracker("visits", args.quiet, "visit"), places)
        finally:
            target.close()
        print(f"rebuilt {args.into} from {sum(counts.values())} archived visits: " + _counts(counts))
        return 0
    started = time.perf_counter()
    counts = reextract_archive(archive, args.source, since, track=tracker("articles", args.quiet, "article"),
                               places=places)
    pages = sum(counts.values())
    print(f"re-extracted {pages} article(s): " + _counts(counts)
          + f" ({pages / max(time.perf_counter() - started, 1e-9):.1f} pages/s)")
    return 0


def export(args: argparse.Namespace, archive: Archive) -> int:
    """Write versions (newest per article, or all) as JSON Lines or CSV."""
    rows = export_versions(archive, all_versions=args.all_versions, source=args.source)
    # no bar between the lines of an export printed on the very terminal it would draw on
    quiet = args.quiet or (not args.output and sys.stdout.isatty())
    rows = progress(rows, lambda: count_versions(archive, args.all_versions, args.source), "versions",
                    quiet=quiet, unit="version")
    out = _open_output(args.output) if args.output else sys.stdout
    try:
        count = (write_csv if args.format == "csv" else write_jsonl)(rows, out)
    finally:
        if args.output:
            out.close()
    if args.output:
        print(f"wrote {count} version(s) to {args.output}", file=sys.stderr)
    return 0


def cdxj(args: argparse.Namespace, archive: Archive) -> int:
    """Index the WARC files as CDXJ, for pywb or any CDXJ-reading replay tool."""
    with archive.engine.connect() as connection:
        run_dirs = list(connection.scalars(select(CrawlRun.warc_dir).order_by(CrawlRun.id.desc())))
    warc_dirs = _warc_places(args, archive.engine).directories(run_dirs)
    output = Path(args.output or warc_dirs[0] / "index.cdxj")
    try:
        lines = write_cdxj(warc_dirs, output, tracker("WARC files", args.quiet, "file"))
    except FileNotFoundError as exc:
        raise CliError(f"{exc}: crawl first, or pass --warc-dir") from None
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror}: pass --output FILE in a folder you may write to") from None
    print(f"wrote {lines} CDXJ line(s) to {output}")
    return 0


def doctor(args: argparse.Namespace) -> int:
    """Check that the archive is whole: integrity, foreign keys, schema, WARC records, disk."""
    url = _existing_archive(args.archive)
    engine = create_readonly_engine(url)
    places = _warc_places(args, engine)

    def track(records, total):  # noqa: ANN001, ANN202 - the records as they are read, and their count
        return progress(records, total, "WARC records", quiet=args.quiet, unit="record")

    problems = 0
    try:
        for finding in diagnose(engine, places, quick=args.quick, track=track):
            problems += finding.problem
            if finding.problem or not args.quiet:  # --quiet: silent when healthy, for cron
                print(f"{'PROBLEM: ' if finding.problem else ''}{finding.check}: {finding.text}", flush=True)
        name = display_name(engine)
    finally:
        engine.dispose()
    if problems or not args.quiet:
        print(f"doctor: {name}: {_plural(problems, 'problem')}" if problems else f"doctor: {name} is healthy")
    return 1 if problems else 0


def runs(args: argparse.Namespace, archive: Archive) -> int:
    """List crawl runs, one line each (what each did, its alarms), or show one run per source."""
    from .archive.reports import alarms_of, recent_runs, report_of, run_row
    from .runs_text import run_details, run_json, run_line

    if args.action == "show" and args.run_id is None:
        raise UsageError("archive runs show needs a run id, e.g. archive runs show 12 (see archive runs)")
    with archive.engine.connect() as connection:
        chosen = recent_runs(connection, args.last) if args.action is None else [run_row(connection, args.run_id)]
        if chosen == [None]:
            raise CliError(f"no crawl run {args.run_id}: archive runs lists them")
        alarms = alarms_of(connection, [run.id for run in chosen])
        shown = [(run, report_of(connection, run), alarms.get(run.id, [])) for run in chosen]
    if args.json:
        found = [run_json(*entry) for entry in shown]
        return _print_json(found[0] if args.action else found)
    if not shown:
        print("no crawl runs yet: run `scrapy crawl sources` or `archive recrawl`", file=sys.stderr)
    for line in (run_details(*shown[0]) if args.action else [run_line(*entry) for entry in shown]):
        print(line)
    return 0


def upgrade(args: argparse.Namespace) -> int:
    """Bring the archive's schema up to this crawler's, after a backup (SQLite)."""
    url = _existing_archive(args.archive)
    reader = create_readonly_engine(url)
    try:
        name, revision = display_name(reader), current_revision(reader)
    finally:
        reader.dispose()
    head = head_revision()
    if revision == head:
        print(f"{name} is already at the newest schema ({head}): nothing to do")
        return 0
    if revision is not None and revision not in revisions():
        raise CliError(f"{name} has schema revision {revision}, newer than this crawler knows (its newest is {head}): "
                       "update the crawler instead")
    writer = create_archive_engine(url)
    try:
        if writer.dialect.name == "sqlite":
            print(f"backed up {name} (schema {revision}) to {_backup(Path(name), revision)}")
        else:
            print(f"no backup of {name} (take one with pg_dump if you want it); the upgrade is one transaction")
        upgrade_schema(writer)
    finally:
        writer.dispose()
    print(f"upgraded {name} from schema {revision} to {head}")
    return 0


def _warc_places(args: argparse.Namespace, engine: Engine) -> WarcPlaces:
    """Where the archive's WARC files are looked for: --warc-dir or $WARC_DIR, else each run's
    own directory, else the archive's default (crawler/warc/locate.py)."""
    return WarcPlaces.of(default_warc_dir(engine.url.render_as_string(hide_password=False)), args.warc_dir)


def _backup(path: Path, revision: str | None) -> Path:
    try:
        return backup_sqlite(path, revision)
    except (OSError, sqlite3.Error) as exc:
        raise CliError(f"cannot back up {path} next to itself ({exc}): nothing was changed; "
                       "upgrade a copy in a folder you may write to") from None


def _open_output(path: str):  # noqa: ANN202
    try:
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}: pass --output FILE in a folder you may write to") from None


def _date_option(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since {value}: expected a date such as 2025-06-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _counts(counts) -> str:  # noqa: ANN001
    return ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing to do"


def report(args: argparse.Namespace, archive: Archive) -> int:
    """Per source: articles, versions per day, edits, error and skip rates, extraction health, most edited."""
    from .report.command import text_report, write_html

    if not args.html:
        print(text_report(archive.engine), end="")
        return 0
    try:
        size = write_html(archive.engine, display_name(archive.engine), Path(args.html))
    except ImportError as exc:
        raise CliError(f"--html needs matplotlib ({exc}): pip install -e '.[report]'") from None
    except OSError as exc:
        raise CliError(f"cannot write {args.html}: {exc.strerror}: pass --html FILE in a folder you may write to") from None
    print(f"wrote {args.html} ({size // 1024} KB): open it in a browser, no server needed")
    return 0


def datasette_metadata(args: argparse.Namespace) -> int:
    """Datasette metadata for the archive: table and column descriptions, the README's queries, search."""
    from .datasette import metadata, write_metadata

    url = make_url(_sqlite_url(args.archive))
    if url.get_backend_name() != "sqlite":
        raise UsageError("Datasette reads SQLite files only: pass --archive with the archive's .db file")
    name = Path(url.database or "archive.db").stem
    out = _open_output(args.output) if args.output else sys.stdout
    try:
        write_metadata(metadata(name), out, as_yaml=not (args.output or "").endswith(".json"))
    finally:
        if args.output:
            out.close()
    if args.output:
        print(f"wrote {args.output}: datasette {name}.db -m {args.output}", file=sys.stderr)
    return 0


def _sqlite_url(option: str | None) -> str:
    url = archive_url(option)
    return url if "://" in url else f"sqlite:///{url}"


def recrawl(args: argparse.Namespace) -> int:
    """Discover new articles, then revisit the due ones: one unattended run (cron-safe)."""
    settings = {}
    for pair in args.settings:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            print(f"archive: -s {pair}: expected NAME=VALUE", file=sys.stderr)
            return 2
        settings[name] = value
    options = RecrawlOptions(archive=getattr(args, "archive", None), sources=args.sources,
                             max_articles=args.max_articles, since=args.since, discover=args.discover,
                             revisit=args.revisit, settings=settings, worker=args.worker, wait=args.wait)
    return run_recrawl(options)


def extract(args: argparse.Namespace) -> int:
    """Print what the crawler would archive from one saved page: check a new source before adding it."""
    from .extract import NotAnArticle, extract_article
    from .sources import DEFAULT_SEEDS_PATH, SourcesError, load_sources, source_for_url

    seeds = Path(args.seeds) if args.seeds else DEFAULT_SEEDS_PATH
    try:
        data = Path(args.file).read_bytes()
        source = source_for_url(load_sources(seeds), args.url)
        rules = source.rules if source else seed_defaults(seeds)
        article = extract_article(_decode_page(data), args.url, rules)
    except OSError as exc:
        print(f"archive: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except SourcesError as exc:
        print(f"archive: {exc}", file=sys.stderr)
        return 1
    except NotAnArticle as exc:
        print(f"archive: not an article: {exc}", file=sys.stderr)
        return 1
    rules_used = f"{source.name} (its rules, then the generic layers)" if source else \
        f"none: generic mode ([defaults] of {seeds.name})"
    if args.json:
        return _print_json({**article.as_dict(), "source": source.name if source else None})
    fields = {"title": article.title, "url": article.url, "source": rules_used,
              "body": f"{article.body_source} ({article.body_stage}), {len(article.text)} characters",
              **{name: _text(getattr(article, name)) for name in META_FIELDS if name != "title"},
              "citations": _text(article.citations)}
    for name, value in fields.items():
        if value:
            print(f"{name + ':':<14}{value}")
    print(f"\n{article.text}")
    return 0


def seed_defaults(path: Path):  # noqa: ANN201 - ExtractionRules, imported lazily
    """The [defaults] rules of a seeds file: what a source with no rules of its own gets."""
    import tomllib

    from .sources import LIST_KEYS, ExtractionRules

    defaults = tomllib.loads(path.read_text(encoding="utf-8")).get("defaults", {})
    return ExtractionRules(**{k: tuple(v) if k in LIST_KEYS else v for k, v in defaults.items()})


def _decode_page(data: bytes) -> str:
    """The page's text as Scrapy decodes a response: BOM, then <meta charset>, then UTF-8,
    and a declared ISO-8859-1 read as cp1252 the way browsers do (w3lib)."""
    from w3lib.encoding import html_to_unicode

    return html_to_unicode(None, data)[1]


# -- the parser ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archive", description="Read the news archive: versions, diffs, articles, search, links.",
        epilog=f"example:\n  archive history {EXAMPLE_URL}\n\n"
               "`archive COMMAND --help` shows a command's options and an example.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", metavar="URL", help="SQLAlchemy URL of the archive, or a SQLite file path "
                        "(default: $ARCHIVE_URL, else sqlite:///archive.db)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars (there are none when "
                        "standard error is not a terminal, e.g. under cron, nor with NO_COLOR set)")
    parser.add_argument("--version", action=_Version, help="print the crawler's version and schema head, then exit")
    common = argparse.ArgumentParser(add_help=False)  # --archive and --quiet also after the command
    common.add_argument("--archive", metavar="URL", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON instead of text")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    command = _adder(sub, common)
    p = command(history, f"archive history {EXAMPLE_URL}", as_json)
    p.add_argument("url", help="any URL that led to the article")
    p = command(diff, f"archive diff {EXAMPLE_URL}        # previous vs newest\n"
                      f"  archive diff {EXAMPLE_URL} 1 3    # v1 vs v3\n"
                      f"  archive diff {EXAMPLE_URL} 3      # what changed in v3\n"
                      f"  archive diff {EXAMPLE_URL} --color always | less -R")
    p.add_argument("url", help="any URL that led to the article")
    p.add_argument("versions", nargs="*", type=_version_number, metavar="V",
                   help="two version numbers (old, new), or one N for vN-1 vs vN; default: the last two")
    p.add_argument("--color", choices=COLOR_CHOICES, default="auto",
                   help="red removed and green added words: auto (on a terminal, unless NO_COLOR is set), "
                        "always, never (default: auto)")
    p = command(show, f"archive show {EXAMPLE_URL} --version 1", as_json)
    p.add_argument("url", help="any URL that led to the article")
    p.add_argument("--version", type=_version_number, metavar="N", help="version number (default: the newest)")
    p = command(search, 'archive search "the gioi AI" --source znews', as_json)
    p.add_argument("terms", help='words (all must occur), "a phrase", or a prefix*; '
                                 'accents optional on SQLite ("eleve" finds "élève")')
    p.add_argument("--source", metavar="S", help="only this source (e.g. znews, dantri, 01net)")
    p.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N results (default: 20)")
    p = command(links, f"archive links {EXAMPLE_URL}", as_json)
    p.add_argument("url", help="any URL that led to the article")
    p = command(recrawl, "archive recrawl --max-articles 200 --since 2025-06-01   # from cron, every 15 min")
    p.add_argument("--sources", metavar="A,B", help="only these sources (default: all)")
    p.add_argument("--max-articles", type=_positive, metavar="N", help="new articles per discovery spider and run")
    p.add_argument("--since", metavar="DATE", help="skip announced articles published before DATE (2025-06-01)")
    p.add_argument("--no-discover", dest="discover", action="store_false", help="only revisit due articles")
    p.add_argument("--no-revisit", dest="revisit", action="store_false", help="only discover new articles")
    p.add_argument("--worker", action="store_true", help="no lock, no seeding: help with the runs others started "
                                                         "on the shared frontier (FRONTIER_URL)")
    p.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                   help="with --worker: exit after this long without a run to help with (default: 60)")
    p.add_argument("-s", "--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                   help="a Scrapy setting, as with scrapy crawl -s (e.g. MIRROR_URL=bundled)")
    p.set_defaults(opens_archive=False)
    warc_dir = argparse.ArgumentParser(add_help=False)
    warc_dir.add_argument("--warc-dir", metavar="DIR", help="the WARC files (default: $WARC_DIR, else where each run wrote them, else warc/ beside the archive)")
    p = command(reextract, "archive reextract --source znews --since 2025-06-01\n"
                           "  archive reextract --into sqlite:///rebuilt.db   # replay every visit into a new archive",
                warc_dir)
    p.add_argument("--source", metavar="S", help="only this source")
    p.add_argument("--since", metavar="DATE", help="only pages captured since DATE (2025-06-01)")
    p.add_argument("--into", metavar="URL", help="rebuild into this (new) archive instead of adding versions here")
    p.set_defaults(writes=True)
    p = command(export, "archive export --format csv --all-versions --output versions.csv")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="default: jsonl")
    p.add_argument("--all-versions", action="store_true", help="every version, not only each article's newest")
    p.add_argument("--source", metavar="S", help="only this source")
    p.add_argument("--output", metavar="FILE", help="default: standard output")
    p = command(cdxj, "archive cdxj --output warc/index.cdxj", warc_dir)
    p.add_argument("--output", metavar="FILE", help="default: index.cdxj in the WARC directory")
    p = command(doctor, "archive doctor   # exit 0 healthy, 1 with one PROBLEM: line per problem\n"
                        "  archive -q doctor   # from cron: prints nothing when healthy", warc_dir)
    p.add_argument("--quick", action="store_true",
                   help="SQLite PRAGMA quick_check instead of integrity_check (skips index contents: faster)")
    p.set_defaults(opens_archive=False)
    p = command(runs, "archive runs --last 5\n  archive runs show 12   # per source, errors by reason, alarms", as_json)
    p.add_argument("action", nargs="?", choices=("show",), help="show one run (its ID) per source")
    p.add_argument("run_id", nargs="?", type=_positive, metavar="ID", help="the run to show")
    p.add_argument("--last", type=_positive, default=20, metavar="N", help="the last N runs (default: 20)")
    p = command(upgrade, "archive upgrade   # after installing a newer crawler; backs up archive.db first")
    p.set_defaults(opens_archive=False)
    p = command(extract, "curl -so page.html https://example.org/news/x.html\n"
                         "  archive extract page.html --url https://example.org/news/x.html", as_json)
    p.add_argument("file", help="the saved page (HTML, any encoding it declares)")
    p.add_argument("--url", required=True, help="the page's URL: it picks the source's rules and resolves links")
    p.add_argument("--seeds", metavar="FILE", help="the sources file (default: this project's seeds/sources.toml)")
    p.set_defaults(opens_archive=False)
    _browse_commands(command, sub, common)
    return parser


def _browse_commands(command: Callable[..., argparse.ArgumentParser], sub: Any,
                     common: argparse.ArgumentParser) -> None:
    """`archive report` and `archive datasette-metadata`: looking at the archive as a whole."""
    p = command(report, "archive report --html report.html   # one page, charts inline: open it in a browser")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML page with charts (default: a text "
                                                  "summary on standard output)")
    p = sub.add_parser("datasette-metadata", help=datasette_metadata.__doc__, description=datasette_metadata.__doc__,
                       epilog="example:\n  archive datasette-metadata -o metadata.yml && datasette archive.db -m "
                              "metadata.yml", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", metavar="FILE", help="default: standard output (YAML; JSON for a .json FILE)")
    p.set_defaults(func=datasette_metadata, opens_archive=False)


def _adder(sub: Any, common: argparse.ArgumentParser) -> Callable[..., argparse.ArgumentParser]:
    """Register a command function: its docstring is the help, ``example`` ends its --help."""
    def command(func: Callable[..., int], example: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p = sub.add_parser(func.__name__, help=func.__doc__, description=func.__doc__,
                           epilog=f"example:\n  {example}", parents=[common, *parents],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p
    return command


class _Version(argparse.Action):
    """``--version``: the installed package's version and the newest schema revision it
    reads (what `archive upgrade` brings an archive to), read only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        from importlib.metadata import PackageNotFoundError, version

        try:
            package = version("news-archive-crawler")
        except PackageNotFoundError:  # run from a checkout that pip never installed
            package = "(not installed)"
        print(f"archive (news-archive-crawler) {package}, archive schema head {head_revision()}")
        parser.exit()


def _version_number(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a version number (1, 2, …)")
    return int(value)


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 2
    try:
        if not getattr(args, "opens_archive", True):
            return args.func(args)
        archive = open_archive(args.archive, writes=getattr(args, "writes", False),
                               warc_dir=getattr(args, "warc_dir", None))
        try:
            return args.func(args, archive)
        finally:
            archive.close()
    except CliError as exc:
        print(f"archive: {exc}", file=sys.stderr)
        return exc.code
    except SQLAlchemyError as exc:
        print(f"archive: the database said: {getattr(exc, 'orig', None) or exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `archive show URL | head`: the reader left; stay quiet at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


# -- opening the archive -------------------------------------------------------------


def open_archive(option: str | None, writes: bool = False, warc_dir: str | None = None) -> Archive:
    """The archive the user named, read-only unless the command ``writes``. Never created
    where there is none, never migrated: an archive whose schema is behind is left as it
    is, with a message that says to run `archive upgrade`."""
    url = _existing_archive(option)
    try:
        archive = Archive.open(url, readonly=True, warc_dir=warc_dir)
    except SchemaNotCurrent as exc:
        raise CliError(str(exc)) from None
    if not writes:
        return archive
    archive.close()
    return Archive.open(url, warc_dir=warc_dir)  # the schema is current: nothing to migrate


def _existing_archive(option: str | None) -> str:
    """The URL of the archive the user named; CliError when there is none there."""
    url = archive_url(option)
    if "://" not in url:
        url = f"sqlite:///{url}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"{url!r} is not a database URL: pass e.g. --archive sqlite:///archive.db") from None
    name = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and name and name != ":memory:" and not Path(name).is_file():
        raise CliError(f"no archive at {name}: run `scrapy crawl sources` first, or pass --archive")
    shown = name if parsed.get_backend_name() == "sqlite" and name else parsed.render_as_string(hide_password=True)
    if not _has_archive_tables(url):
        raise CliError(f"{shown} is not an archive (no articles table): "
                       "pass the archive's --archive URL, or run `scrapy crawl sources` to make one")
    return url


def _has_archive_tables(url: str) -> bool:
    """Whether the database holds an archive, looked at without writing to it."""
    try:
        engine = create_readonly_engine(url)
    except ImportError as exc:
        raise CliError(f"no driver for {url.split(':')[0]} ({exc}): install it "
                       "(postgresql+psycopg: pip install -e '.[postgres]')") from None
    except SQLAlchemyError as exc:
        raise UsageError(f"{url!r} is not a database URL ({exc}): pass e.g. --archive sqlite:///archive.db") from None
    try:
        return inspect(engine).has_table("articles")
    except SQLAlchemyError as exc:
        raise CliError(f"cannot read the archive: {getattr(exc, 'orig', None) or exc}") from None
    finally:
        engine.dispose()


# -- reading helpers -------------------------------------------------------------------


def _article(archive: Archive, url: str) -> tuple[ArticleRow, list[ArticleVersion]]:
    """The article ``url`` leads to and its versions, oldest first; CliError if unknown."""
    article = article_for(archive, url)
    versions = versions_of(archive, url) if article is not None else []
    if not versions:
        raise CliError(f"no article for {url} in this archive: check the URL, "
                       "or find the article with `archive search WORDS`")
    return article, versions


def _pick(versions: list[ArticleVersion], number: int) -> ArticleVersion:
    for version in versions:
        if version.version == number:
            return version
    available = ", ".join(str(v.version) for v in versions)
    raise UsageError(f"no version {number}: this article has versions {available}")


def _pick_pair(versions: list[ArticleVersion], numbers: list[int]) -> tuple[ArticleVersion, ArticleVersion]:
    """Two versions to compare: the last two, (N-1, N) for one number, or the two given."""
    if not numbers:
        return versions[-2], versions[-1]
    if len(numbers) == 1:
        new = _pick(versions, numbers[0])
        if new.version == 1:
            raise UsageError("version 1 is the first: give two versions to compare, e.g. 1 2")
        return _pick(versions, new.version - 1), new
    if len(numbers) == 2:
        return _pick(versions, numbers[0]), _pick(versions, numbers[1])
    raise UsageError(f"give two version numbers (old new), one, or none; got {len(numbers)}")


def _meta_changes(old: ArticleVersion, new: ArticleVersion) -> list[str]:
    """``field: old -> new`` for each metadata field that differs; the summary word by word."""
    lines = []
    for name in META_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if before == after:
            continue
        if name == "summary":
            changed = word_diff(before or "", after or "").splitlines()[2:]
            lines.extend(f"summary: {line[2:]}" for line in changed if not line.startswith("@@"))
        else:
            lines.append(f"{name}: {_text(before) or '(none)'} -> {_text(after) or '(none)'}")
    return lines


def _label(version: ArticleVersion) -> str:
    return f"v{version.version} {iso(version.fetched_at)}"


def _source_name(archive: Archive, source_id: int) -> str:
    with archive.session() as session:
        return session.scalar(select(SourceRow.name).where(SourceRow.id == source_id))


def _check_source(archive: Archive, name: str) -> None:
    with archive.session() as session:
        names = list(session.scalars(select(SourceRow.name).order_by(SourceRow.name)))
    if name not in names:
        raise UsageError(f"no source {name!r}: sources are {', '.join(names) or '(none yet)'}")


def _latest(archive: Archive, article_ids: set[int]) -> dict[int, Any]:
    """url, source and newest title of these articles, by id."""
    lv = latest_versions.c
    with archive.engine.connect() as connection:
        rows = connection.execute(select(lv.article_id, lv.url, lv.source, lv.title)
                                  .where(lv.article_id.in_(article_ids)))
        return {row.article_id: row for row in rows}


# -- output --------------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """UTC, ISO 8601, to the second: 2025-07-02T00:00:00Z."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(value)
    return "" if value is None else str(value)


def _clip(value: str, width: int) -> str:
    return value if len(value) <= width else value[:width - 1] + "…"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _article_json(archive: Archive, article: ArticleRow) -> dict[str, Any]:
    return {"url": article.url, "source": _source_name(archive, article.source_id),
            "first_seen_at": article.first_seen_at, "gone_at": article.gone_at}


def _version_summary(version: ArticleVersion) -> dict[str, Any]:
    names = ("version", "fetched_at", "title", "words_added", "words_removed", "chars_added", "chars_removed",
             "same_as_version", "content_hash")
    return {name: getattr(version, name) for name in names}


def _version_json(version: ArticleVersion) -> dict[str, Any]:
    return {"version": version.version, "fetched_at": version.fetched_at, "same_as_version": version.same_as_version,
            **{name: getattr(version, name) for name in META_FIELDS}, "text": version.text}


def _other_id(link: ArticleLink, article_id: int) -> int:
    return link.to_article_id if link.from_article_id == article_id else link.from_article_id


def _link_json(link: ArticleLink, article_id: int, others: dict[int, Any]) -> dict[str, Any]:
    outgoing = link.from_article_id == article_id
    other = others.get(_other_id(link, article_id))
    return {"kind": link.kind, "direction": "outgoing" if outgoing else "incoming",
            "url": other.url if other else None, "source": other.source if other else None,
            "title": other.title if other else None, "score": link.score, "detected_at": iso(link.detected_at)}


def _json_default(value: Any) -> str:
    return iso(value) if isinstance(value, datetime) else str(value)


def _print_json(value: Any) -> int:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=_json_default))
    return 0


if __name__ == "__main__":
    sys.exit(main())
