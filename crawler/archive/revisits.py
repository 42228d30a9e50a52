"""The bulk path for visits that need no extraction (304 Not Modified, identical body).

A re-crawl of an unchanged archive is almost only such visits, so they are stored a
batch at a time with a few set-based statements instead of ORM work per page (bench/
recrawl.py: the ORM path cost ~2 ms a page, more than the crawl itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Sequence

from sqlalchemy import Connection, bindparam, func, insert, select, update

from ..schedule import RevisitPolicy
from .models import ArticleRow, ArticleUrl, ArticleVersion, Fetch

QUIET_OUTCOMES = ("not_modified", "unchanged")


def is_quiet(record) -> bool:  # noqa: ANN001
    return record.article is None and record.outcome in QUIET_OUTCOMES


def record_quiet_visits(connection: Connection, records: Sequence, url_forms: Callable[[str], list[str]],
                        policy: RevisitPolicy) -> dict[int, str]:
    """Store the quiet visits whose article is known; returns {index in records: outcome}.
    Visits of unknown URLs are left to the caller (they are errors, with a message)."""
    forms = {i: [f for u in (r.url, *r.urls) for f in url_forms(u)] for i, r in enumerate(records)}
    known = _articles_by_url(connection, {f for fs in forms.values() for f in fs})
    chosen = {i: next((known[f] for f in fs if f in known), None) for i, fs in forms.items()}
    article_ids = {a["id"] for a in chosen.values() if a}
    latest = _latest_versions(connection, article_ids)
    fetches, updates, new_urls, done = [], {}, {}, {}
    for i, record in enumerate(records):
        article = chosen[i]
        if article is None or article["id"] not in latest:
            continue
        version_id, published_at = latest[article["id"]]
        state = updates.get(article["id"], article)
        step, due = policy.next_visit(record.fetched_at, state["revisit_step"], record.outcome,
                                      published_at or article["first_seen_at"])
        updates[article["id"]] = {**state, "revisit_step": step, "next_visit_at": due,
                                  "last_fetched_at": max(state["last_fetched_at"], record.fetched_at),
                                  "etag": record.etag or state.get("etag"),
                                  "last_modified": record.last_modified or state.get("last_modified")}
        fetches.append({"crawl_run_id": record.crawl_run_id, "url": record.url, "article_id": article["id"],
                        "version_id": version_id, "fetched_at": record.fetched_at, "http_status": record.http_status,
                        "outcome": record.outcome, "error": None, **record.warc_columns()})
        for url in (record.url, *record.urls):
            if url not in known:
                new_urls.setdefault(url, {"article_id": article["id"], "url": url, "first_seen_at": record.fetched_at})
        done[i] = record.outcome
    if fetches:
        connection.execute(insert(Fetch), fetches)
        # a server may send new validators with the same bytes (or with its 304)
        connection.execute(update(ArticleRow).where(ArticleRow.id == bindparam("b_id")).values(
            revisit_step=bindparam("b_step"), next_visit_at=bindparam("b_due"), last_fetched_at=bindparam("b_last"),
            etag=bindparam("b_etag"), last_modified=bindparam("b_modified"), gone_at=None),
            [{"b_id": i, "b_step": u["revisit_step"], "b_due": u["next_visit_at"], "b_last": u["last_fetched_at"],
              "b_etag": u["etag"], "b_modified": u["last_modified"]} for i, u in updates.items()])
    if new_urls:
        connection.execute(insert(ArticleUrl), list(new_urls.values()))
    return done


def _articles_by_url(connection: Connection, urls: set[str]) -> dict[str, dict]:
    if not urls:
        return {}
    rows = connection.execute(
        select(ArticleUrl.url, ArticleRow.id, ArticleRow.revisit_step, ArticleRow.first_seen_at,
               ArticleRow.last_fetched_at, ArticleRow.etag, ArticleRow.last_modified)
        .join(ArticleRow, ArticleRow.id == ArticleUrl.article_id).where(ArticleUrl.url.in_(urls)))
    found = {}
    for row in rows.mappings():
        found[row["url"]] = dict(row)
    return found


def _latest_versions(connection: Connection, article_ids: set[int]) -> dict[int, tuple[int, datetime | None]]:
    if not article_ids:
        return {}
    newest = (select(ArticleVersion.article_id, func.max(ArticleVersion.version).label("version"))
              .where(ArticleVersion.article_id.in_(article_ids)).group_by(ArticleVersion.article_id).subquery())
    rows = connection.execute(
        select(ArticleVersion.article_id, ArticleVersion.id, ArticleVersion.published_at)
        .join(newest, (newest.c.article_id == ArticleVersion.article_id) & (newest.c.version == ArticleVersion.version)))
    return {article_id: (version_id, published) for article_id, version_id, published in rows}
