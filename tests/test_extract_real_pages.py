"""Extraction against real saved pages of these sites (../shared/fixtures; skipped when absent).

These pages are third-party data and stay outside the repository.
"""

from datetime import datetime, timezone

import pytest

from crawler.extract import NotAnArticle, extract_article
from crawler.sources import load_sources

SOURCES = load_sources()

ZNEWS_2025 = "znews/znews_post1528657_apple-huy-bo-du-an-quan-trong_2025-02.html"
DANTRI_TANKS = "dantri/derived/eNewsWebApp__chien-thuat-cua-nga-khi-dua-50-xe-tang-20221224083224103.html"
DANTRI_WEAPONS = "dantri/derived/eNewsWebApp__5-vu-khi-dang-chu-y-20221223144734383.jsp.html"


def extract(shared_fixtures, name, source, url):
    html = (shared_fixtures / name).read_text(encoding="utf-8")
    return extract_article(html, url, SOURCES[source].rules)


def test_znews_raw_article_page(shared_fixtures):
    article = extract(shared_fixtures, ZNEWS_2025, "znews", "https://znews.vn/znews-post1528657.html")
    # <link rel=canonical>, not the bogus og:url the page also carries
    assert article.url == "https://znews.vn/apple-huy-bo-du-an-quan-trong-post1528657.html"
    assert article.title == "Apple hủy bỏ dự án quan trọng"
    assert article.authors == ("Minh Hoàng",)
    assert article.published_at == datetime(2025, 2, 1, 22, 1, 8, tzinfo=timezone.utc)
    assert (article.language, article.section) == ("vi", "Công nghệ")
    assert "Apple" in article.tags and article.summary.startswith("Việc Apple tiếp tục hủy bỏ dự án")
    assert "Với tên mã N107, thiết bị của Táo khuyết" in article.text
    assert "Năm 2024, Meta đã giới thiệu Orion" in article.text
    assert "Apple tiếp tục hủy bỏ một dự án phát triển kính AR. Ảnh: Bloomberg." in article.text
    for boilerplate in ("Đọc tiếp", "Xiaomi lập kỷ lục", "Mark Zuckerberg sắp bị thay bằng AI",
                        "Bạn có thể quan tâm", "Ngày sinh:", "White Plains", "18 phút trước", "|",
                        "Những câu chuyện bên trong Apple", "được tiết lộ qua những trang sách"):  # a series promo
        assert boilerplate not in article.text
    assert article.text.endswith("dần để các đối thủ trong ngành vượt qua.")


def test_znews_trimmed_skeleton(shared_fixtures):
    article = extract(shared_fixtures, "znews/derived/crawl_news_site__znews_standard.html", "znews",
                      "https://lifestyle.znews.vn/phat-hanh-du-an-tien-ao-post1.html")
    assert article.title.startswith("Phát hành dự án tiền ảo")
    assert article.published_at == datetime(2025, 10, 9, 5, 35, 44, tzinfo=timezone.utc)
    assert article.tags == ("Hà Nội", "Tiền mã hóa")
    assert "Ảnh minh họa do cơ quan chức năng cung cấp." in article.text
    assert "Cơ quan điều tra đã khuyến cáo người dân cảnh giác trước lời mời." in article.text  # a notebox: content


def test_znews_video_page_without_text_is_not_an_article(shared_fixtures):
    with pytest.raises(NotAnArticle, match="no article body"):
        extract(shared_fixtures, "znews/derived/crawl_news_site__znews_video.html", "znews",
                "https://lifestyle.znews.vn/video-mua-lon-o-tphcm-post1591943.html")


@pytest.mark.parametrize(("name", "url", "title", "first", "last", "related"), [
    (DANTRI_TANKS,
     "https://dantri.com.vn/the-gioi/chien-thuat-cua-nga-khi-dua-50-xe-tang-sat-thu-chien-truong-toi-donbass-20221224083224103.htm",
     'Chiến thuật của Nga khi đưa 50 xe tăng "sát thủ chiến trường" tới Donbass',
     "Nhà thầu quốc phòng Nga Uralvagonzavod đã sản xuất cho quân đội nước này 600 xe tăng T-90.",
     "hệ thống điều khiển hỏa lực hiệu quả giúp nó có thể bắn xa và chính xác hơn vào mục tiêu.",
     ["Tin liên quan", "Quan chức Lugansk nói Nga sắp giành được thành trì", "Dòng sự kiện",
      "Ukraine cáo buộc Nga tấn công dữ dội ngay trước Giáng sinh", "1 giờ trước"]),
    (DANTRI_WEAPONS,
     "https://dantri.com.vn/the-gioi/5-vu-khi-dang-chu-y-trong-goi-vien-tro-moi-cua-my-cho-ukraine-20221223144734383.htm",
     "5 vũ khí đáng chú ý trong gói viện trợ mới của Mỹ cho Ukraine",
     "Trước thềm chuyến thăm của Tổng thống Ukraine Volodymyr Zelensky",
     "Xe Humvee có khả năng trang bị tên lửa chống tăng",
     ["Tin liên quan", "Dòng sự kiện"]),
])
def test_dantri_singular_layout(shared_fixtures, name, url, title, first, last, related):
    article = extract(shared_fixtures, name, "dantri", url)
    assert article.url == url and article.title == title and article.language == "vi"
    assert not article.summary.startswith("(Dân trí)")
    assert first in article.text and last in article.text
    for boilerplate in related:
        assert boilerplate not in article.text
