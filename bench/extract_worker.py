"""Extraction only, one process: time an extractor over saved pages; print one JSON line.

    python bench/extract_worker.py trafilatura|ours|news-please PAGES.json

PAGES.json lists [url, path, encoding] of the pages. Run by bench/throughput.py, each
extractor in a process of its own (its peak RSS is that process's); news-please from its
own venv, so this file imports nothing of the crawler unless asked for ``ours``. Time
counts the extractor's calls only: not the imports, not reading the files.
"""

import json
import sys
import time


def extractor(name):  # noqa: ANN001, ANN201
    if name == "trafilatura":
        import trafilatura
        return lambda html, url: trafilatura.extract(html, url=url, include_comments=False)
    if name == "news-please":
        from newsplease import NewsPlease
        return lambda html, url: NewsPlease.from_html(html, url=url, fetch_images=False).maintext
    sys.path.insert(0, sys.argv[3])  # the project root
    from crawler.extract import extract_article
    from crawler.sources import load_sources, source_for_url
    sources = load_sources()
    return lambda html, url: extract_article(html, url, source_for_url(sources, url).rules)


def main() -> None:
    extract = extractor(sys.argv[1])
    pages = [(url, open(path, "rb").read().decode(encoding)) for url, path, encoding in json.load(open(sys.argv[2]))]
    found = 0
    started = time.perf_counter()
    for url, html in pages:
        found += bool(extract(html, url))
    print(json.dumps({"pages": len(pages), "seconds": time.perf_counter() - started, "found": found}))


if __name__ == "__main__":
    main()
