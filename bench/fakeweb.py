"""A generated mirrored web of N distinct articles, made from the bundled replica pages.

Each article copies one of the six bundled pages (znews, dantri, developpez, 01net and
the two vietnam.vn translations) and makes it a different article: its own URL in the
site's URL pattern (canonical link, og:url, JSON-LD), its own title, and its own body
(a random ~70 % of the paragraphs, shuffled, each carrying a unique sentence), so the
archive sees N new articles and SimHash sees no near-duplicates. vietnam.vn pages cite
a generated znews/dantri article, as the real ones cite the originals they translate.

The layout is the mirror's (crawler/mirror/server.py): <root>/<host>/<path>, index.html
for paths ending in "/", and a <file>.headers sidecar (developpez: ISO-8859-1 declared,
cp1252 bytes, as the bundled page).
"""

from __future__ import annotations

import html
import random
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from crawler.extract import extract_article
from crawler.mirror import BUNDLED_WEB
from crawler.sources import load_sources

HOSTS = ("znews.vn", "dantri.com.vn", "www.developpez.com", "www.01net.com", "www.vietnam.vn")
KEEP_SHARE = 0.7  # share of a template's paragraphs each article keeps
MIN_UNITS = 5
SENTENCE_WORDS = (10, 18)
P_UNIT = re.compile(r"(?s)(<p>)(.*?)(</p>)")  # attribute-less paragraphs
LINE_UNIT = re.compile(r"(?m)^()([^<\s][^\n]{60,}?)()$")  # developpez: text lines between <br />
TAG = re.compile(r"<[^>]+>")
WORD = re.compile(r"[^\W\d_]{3,}")


@dataclass
class Template:
    source: str
    url: str  # the bundled article's canonical URL
    encoding: str = "utf-8"
    cites: str | None = None  # source of the original it cites (vietnam.vn)
    # filled by load_template
    html: str = ""
    title: str = ""
    cited_url: str | None = None
    units: list[tuple[int, int]] | None = None  # (start, end) of each paragraph's text
    vocabulary: list[str] | None = None

    @property
    def host(self) -> str:
        return self.url.split("/")[2]


ZNEWS = "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html"
DANTRI = ("https://dantri.com.vn/cong-nghe/"
          "meta-bao-chi-san-nao-ai-mark-zuckerberg-khoi-mao-cuoc-chien-20250702002436713.htm")
DEVELOPPEZ = ("https://www.developpez.com/actu/373119/Mark-Zuckerberg-est-tellement-frustre-par-la-position-de-Meta-"
              "dans-le-domaine-de-l-IA-qu-il-est-pret-a-depenser-des-milliards-de-pour-convaincre-le-PDG-de-Scale-AI-"
              "de-rejoindre-son-entreprise/")
ONE_NET = "https://www.01net.com/actualites/mark-zuckerberg-depense-sans-compter-pour-muscler-son-nouveau-labo-ia.html"
VIETNAM = "https://www.vietnam.vn/fr/"
TEMPLATES = [
    Template("znews", ZNEWS),
    Template("dantri", DANTRI),
    Template("developpez", DEVELOPPEZ, "cp1252"),
    Template("01net", ONE_NET),
    Template("vietnamvn", VIETNAM + "cuoc-choi-lon-cua-mark-zuckerberg", cites="znews"),
    Template("vietnamvn", VIETNAM + "meta-bao-chi-san-nao-ai-mark-zuckerberg-khoi-mao-cuoc-chien", cites="dantri"),
]


# Article URLs of generated archives (store_scaling.py, query.py), one shape per source.
URL_PATTERNS = {"znews": "https://znews.vn/bai-viet-{i}-post{n}.html",
                "dantri": "https://dantri.com.vn/cong-nghe/bai-viet-{i}-2024{n:013d}.htm",
                "developpez": "https://www.developpez.com/actu/{n}/Article-{i}/",
                "01net": "https://www.01net.com/actualites/article-{i}.html",
                "vietnamvn": "https://www.vietnam.vn/fr/article-{i}"}

def mirror_file(root: Path, url: str) -> Path:
    """Where the mirror keeps a URL's page: <root>/<host>/<path>, index.html for a path ending in /."""
    path = root / url.split("://", 1)[1]
    return path / "index.html" if url.endswith("/") else path


def plain(fragment: str) -> str:
    return " ".join(html.unescape(TAG.sub(" ", fragment)).split())


def load_template(template: Template, rules: dict) -> Template:
    """Read a bundled page; find its title, cited URL and body paragraphs (as extracted)."""
    template.html = mirror_file(BUNDLED_WEB, template.url).read_bytes().decode(template.encoding)
    article = extract_article(template.html, template.url, rules[template.source].rules)
    template.title, template.cited_url = article.title, article.cited_url
    body = " ".join(article.text.split())
    pattern = LINE_UNIT if template.source == "developpez" else P_UNIT
    template.units = [m.span(2) for m in pattern.finditer(template.html)
                      if len(plain(m.group(2))) > 40 and plain(m.group(2))[:40] in body]
    template.vocabulary = sorted(set(WORD.findall(article.text)))
    if len(template.units) < MIN_UNITS:
        raise RuntimeError(f"{template.url}: only {len(template.units)} body paragraphs found")
    return template


def load_templates() -> list[Template]:
    rules = load_sources()
    return [load_template(t, rules) for t in TEMPLATES]


def ascii_slug(text: str, title_case: bool = False) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    words = re.findall(r"[A-Za-z0-9]+", folded.encode("ascii", "ignore").decode())
    return "-".join(w.capitalize() if title_case else w.lower() for w in words)


def sentence(rng: random.Random, vocabulary: list[str]) -> str:
    words = rng.sample(vocabulary, rng.randint(*SENTENCE_WORDS))
    return " ".join(words).capitalize() + "."


def article_url(template: Template, number: int, phrase: str) -> str:
    """A new URL in the site's own pattern."""
    slug = f"{ascii_slug(phrase)}-{number}"
    if template.source == "znews":
        return f"https://znews.vn/{slug}-post{1_600_000 + number}.html"
    if template.source == "dantri":
        return f"https://dantri.com.vn/cong-nghe/{slug}-2025080{number:010d}.htm"
    if template.source == "developpez":
        return f"https://www.developpez.com/actu/{380_000 + number}/{ascii_slug(phrase, title_case=True)}/"
    if template.source == "01net":
        return f"https://www.01net.com/actualites/{slug}.html"
    return f"https://www.vietnam.vn/fr/{slug}"


def new_body(template: Template, rng: random.Random) -> str:
    """The template's HTML with its paragraphs subset, shuffled and made unique."""
    page, units = template.html, template.units
    contents = [page[a:b] for a, b in units]
    kept = rng.sample(contents, max(MIN_UNITS, round(KEEP_SHARE * len(contents))))
    kept = [f"{text} {sentence(rng, template.vocabulary)}" for text in kept]
    slots = kept + [""] * (len(contents) - len(kept))
    rng.shuffle(slots)
    pieces, last = [], 0
    for (start, end), text in zip(units, slots):
        pieces += [page[last:start], text]
        last = end
    return "".join(pieces) + page[last:]


def escaped_forms(value: str) -> list[str]:
    """How a string may appear in the page: raw, HTML-escaped (both apostrophe styles)."""
    forms = [value, html.escape(value, quote=True), html.escape(value, quote=True).replace("&#x27;", "&#39;"),
             html.escape(value, quote=False)]
    return list(dict.fromkeys(forms))


def make_page(template: Template, number: int, rng: random.Random, cited: str | None) -> tuple[str, str]:
    """(url, html) of article ``number`` made from ``template``."""
    phrase = " ".join(rng.sample(template.vocabulary, 5)).capitalize()
    url = article_url(template, number, phrase)
    page = new_body(template, rng)
    page = page.replace(template.url, url)
    if template.source == "znews":  # og:url is a short form of the canonical
        page = page.replace("znews-post1556369.html", f"znews-post{1_600_000 + number}.html")
    if template.cited_url and cited:
        page = page.replace(template.cited_url, cited)
    title = f"{phrase} : {template.title}"
    for old in escaped_forms(template.title):
        page = page.replace(old, html.escape(title, quote=True) if old != template.title else title)
    return url, page


def write_page(root: Path, template: Template, url: str, page: str) -> None:
    path = mirror_file(root, url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(page.encode(template.encoding, errors="xmlcharrefreplace"))
    sidecar = mirror_file(BUNDLED_WEB, template.url)
    sidecar = sidecar.with_name(sidecar.name + ".headers")
    if sidecar.is_file():
        shutil.copyfile(sidecar, path.with_name(path.name + ".headers"))


def generate_web(root: Path, articles: int, seed: int = 1) -> list[str]:
    """Write ``articles`` pages spread evenly over the five hosts; return their URLs."""
    templates = load_templates()
    by_host = {host: [t for t in templates if t.host == host] for host in HOSTS}
    for host in HOSTS:  # the sites' own robots.txt
        (root / host).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(BUNDLED_WEB / host / "robots.txt", root / host / "robots.txt")
    urls, latest = [], {}
    for number in range(articles):
        choices = by_host[HOSTS[number % len(HOSTS)]]
        template = choices[(number // len(HOSTS)) % len(choices)]
        url, page = make_page(template, number, random.Random(f"{seed}-{number}"), latest.get(template.cites))
        write_page(root, template, url, page)
        latest[template.source] = url
        urls.append(url)
    return urls
