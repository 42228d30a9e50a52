"""How many new articles a run may request: ``-a max_articles`` in all, DISCOVER_MAX_PER_SOURCE
per source (0: no limit), counted as discovery finds them (spiders/base.py ``announced``).

A process alone counts them itself (ProcessLimits). The processes of a run on the shared
frontier count them together, in Redis (frontier/limits.py): each counted only its own, so
three processes whose feeds or child sitemaps were read by different members requested up
to three times the limit."""

from __future__ import annotations

GRANTED = "granted"  # request it
OVER_LIMIT = "over_limit"  # the run has requested as many as it may
ELSEWHERE = "elsewhere"  # another process of the run found it first: counted, requested again (duplicate filter)
UNANSWERED = "unanswered"  # the run's count could not be read (the frontier's Redis is away)


class ProcessLimits:
    """The limits counted in this process: the only one of its run."""

    def __init__(self, most: int | None, per_source: int):
        self.most, self.per_source = most or 0, per_source or 0
        self.total = 0
        self.by_source: dict[str, int] = {}

    @property
    def limited(self) -> bool:
        return bool(self.most or self.per_source)

    def grant(self, source: str, urls: list[str]) -> dict[str, str]:
        """A verdict per URL (distinct new articles of ``source``), in order: the first ones
        within the limits are GRANTED and counted."""
        verdicts = {}
        for url in urls:
            if (self.most and self.total >= self.most) or (self.per_source and self.by_source.get(source, 0)
                                                           >= self.per_source):
                verdicts[url] = OVER_LIMIT
                continue
            self.total += 1
            self.by_source[source] = self.by_source.get(source, 0) + 1
            verdicts[url] = GRANTED
        return verdicts

    def reached(self) -> bool:
        """The run has requested ``-a max_articles`` articles (as far as this process knows):
        a listing stops turning pages."""
        return bool(self.most) and self.total >= self.most
