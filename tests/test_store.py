"""The archive's versioning rule and transactional writes, without Scrapy."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from crawler.archive.migrate import downgrade
from crawler.archive.models import ArticleVersion, Fetch
from crawler.archive.store import Archive, FetchRecord
from crawler.extract import Article
from crawler.sources import load_sources
from tests.conftest import postgres_url

T0 = datetime(2025, 7, 2, 0, 0, tzinfo=timezone.utc)
ARTICLE = Article(
    url="https://znews.vn/a-post1.html", title="Tiêu đề", authors=("Hoàng Vũ",),
    published_at=datetime(2025, 7, 1, 22, 30, tzinfo=timezone.utc), modified_at=None,
    language="vi", section="Công nghệ", tags=("Meta",), summary="Tóm tắt", text="Đoạn một.\nĐoạn hai.",
)


@pytest.fixture(params=["sqlite", "postgresql"])
def archive(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'archive.db'}" if request.param == "sqlite" else postgres_url()
    archive = Archive.open(url)
    archive.sync_sources(load_sources().values())
    yield archive
    if request.param == "postgresql":
        downgrade(archive.engine, "base")
    archive.close()


def visit(article=ARTICLE, minutes=0, **fields):
    return FetchRecord(url=article.url if article else "https://znews.vn/x.html", source="znews",
                       fetched_at=T0 + timedelta(minutes=minutes), http_status=200, article=article, **fields)


def test_unchanged_refetch_adds_a_fetch_and_no_version(archive):
    assert archive.record_fetch(visit()) == "new"
    assert archive.record_fetch(visit(minutes=30)) == "unchanged"
    assert [v.version for v in archive.versions_of(ARTICLE.url)] == [1]
    assert archive.count(Fetch) == 2


@pytest.mark.parametrize("change", [
    {"text": "Đoạn một.\nĐoạn hai đã sửa."}, {"title": "Tiêu đề mới"}, {"authors": ("Minh Anh",)},
    {"modified_at": datetime(2025, 7, 2, 3, 0, tzinfo=timezone.utc)},
])
def test_changed_content_adds_the_next_version(archive, change):
    archive.record_fetch(visit())
    assert archive.record_fetch(visit(replace(ARTICLE, **change), minutes=5)) == "changed"
    versions = archive.versions_of(ARTICLE.url)
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].text == ARTICLE.text  # the old state is kept as it was


def test_versions_keep_aware_utc_times_and_json_lists(archive):
    archive.record_fetch(visit())
    (version,) = archive.versions_of(ARTICLE.url)
    assert version.published_at == ARTICLE.published_at and version.published_at.tzinfo is not None
    assert version.authors == ["Hoàng Vũ"] and version.tags == ["Meta"]


def test_fetch_without_article_is_recorded_with_its_reason(archive):
    outcome = archive.record_fetch(visit(article=None, outcome="skipped", error="no article body: 12 characters"))
    assert outcome == "skipped"
    assert archive.count(ArticleVersion) == 0


def test_a_bad_record_is_rolled_back_alone(archive):
    naive = replace(ARTICLE, url="https://znews.vn/b-post2.html", published_at=datetime(2025, 7, 1))
    other = replace(ARTICLE, url="https://znews.vn/c-post3.html", title="Bài khác", text="Một bài hoàn toàn khác.")
    outcomes = archive.record_fetches([visit(), visit(naive), visit(other)])
    assert outcomes == ["new", "error", "new"]
    assert archive.count(ArticleVersion) == 2
    with archive.session() as session:
        error = session.query(Fetch).filter_by(outcome="error").one()
    assert error.url == "https://znews.vn/b-post2.html" and "naive datetime" in error.error
    assert "INSERT" not in error.error  # the reason, not the SQL


def test_unknown_source_is_an_error_fetch_not_a_crash(archive):
    assert archive.record_fetch(replace(visit(), source="nope")) == "error"
