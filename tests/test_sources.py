"""The seeds file: what it must hold, and errors that name file, entry and key."""

import pytest

from crawler.sources import SourcesError, load_sources, source_for_url

GOOD = """
[defaults]
body = ["article"]
prune = ["nav"]

[sources.example]
domains = ["example.com"]
language = "fr"
timezone = "Europe/Paris"
start_urls = ["https://www.example.com/a.html"]
prune = [".sidebar"]
"""


def write(tmp_path, text):
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_project_seeds_define_the_five_sources():
    sources = load_sources()
    assert list(sources) == ["znews", "dantri", "developpez", "01net", "vietnamvn"]
    for source in sources.values():
        assert source.start_urls and source.rules.body, source.name
        assert all(source.owns(url) for url in source.start_urls)


def test_cited_articles_are_start_urls():
    urls = {url for s in load_sources().values() for url in s.start_urls}
    assert "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html" in urls
    assert ("https://dantri.com.vn/cong-nghe/meta-bao-chi-san-nao-ai-mark-zuckerberg-khoi-mao-cuoc-chien"
            "-20250702002436713.htm") in urls


def test_source_keys_override_defaults_and_prune_extends(tmp_path):
    source = load_sources(write(tmp_path, GOOD))["example"]
    assert source.rules.body == ("article",)
    assert source.rules.prune == ("nav", ".sidebar")
    assert source.rules.timezone == "Europe/Paris" and source.rules.language == "fr"


@pytest.mark.parametrize(("edit", "message"), [
    (('language = "fr"', 'language = "fr"\nbodyy = ["x"]'), "[sources.example]: unknown key 'bodyy'"),
    (('timezone = "Europe/Paris"\n', ""), "[sources.example]: missing required key 'timezone'"),
    (('"Europe/Paris"', '"Europe/Pariss"'), "[sources.example] timezone: unknown IANA zone 'Europe/Pariss'"),
    (('language = "fr"', 'language = "french"'), "[sources.example] language: 'french' is not an ISO 639-1 code"),
    (('prune = [".sidebar"]', 'prune = ".sidebar"'), "[sources.example] prune: expected a list of strings"),
    (('prune = [".sidebar"]', "cited = ['Source : (']"), "[sources.example] cited: bad regular expression"),
    (('https://www.example.com/a.html', 'https://other.org/a.html'),
     "[sources.example] start_urls: https://other.org/a.html is outside the source's domains"),
    (('body = ["article"]', 'body = ["article"]\nwhatever = 1'), "[defaults]: unknown key 'whatever'"),
])
def test_bad_entries_are_named(tmp_path, edit, message):
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(SourcesError) as error:
        load_sources(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(SourcesError, match="not valid TOML"):
        load_sources(write(tmp_path, "[sources.x\n"))
    with pytest.raises(SourcesError, match="sources file not found"):
        load_sources(tmp_path / "nope.toml")


def test_source_for_url_matches_subdomains_and_old_hosts():
    sources = load_sources()
    assert source_for_url(sources, "https://lifestyle.znews.vn/x-post1.html").name == "znews"
    assert source_for_url(sources, "https://zingnews.vn/x-post1.html").name == "znews"
    assert source_for_url(sources, "https://intelligence-artificielle.developpez.com/actu/1/x/").name == "developpez"
    assert source_for_url(sources, "https://notznews.vn/x.html") is None
