"""The run's limits on new articles (spiders/limits.py) counted for every process of a run
together, in its Redis keys (scripts.GRANT): one round trip per feed, sitemap or listing page
read, and none when the run has no limit. Two processes that find one article count it once:
the second is told another member found it first (and requests it all the same, for the run's
duplicate filter to drop, in case the first died before its request was queued)."""

from __future__ import annotations

import logging

from ..spiders.limits import ELSEWHERE, GRANTED, OVER_LIMIT, UNANSWERED, ProcessLimits
from .outage import FAILED, FrontierOutage
from .run import Run

logger = logging.getLogger(__name__)
VERDICTS = {1: GRANTED, 0: OVER_LIMIT, 2: ELSEWHERE}


class RunLimits(ProcessLimits):
    def __init__(self, run: Run, outage: FrontierOutage, most: int | None, per_source: int):
        super().__init__(most, per_source)
        self.run, self.outage = run, outage
        self.told_unanswered = False

    def grant(self, source: str, urls: list[str]) -> dict[str, str]:
        if not self.limited:
            return dict.fromkeys(urls, GRANTED)
        if not urls:
            return {}
        answer = self.outage.call(self.run.grant, self.most, self.per_source, source, urls)
        if answer is FAILED:
            # Requested uncounted, they could take the run past its limits; not requested, they
            # are still new to the archive, so the next run's discovery finds them again.
            if not self.told_unanswered:
                self.told_unanswered = True
                logger.warning("frontier: %d new articles of %s not requested: the run's limits are counted in "
                               "Redis, which does not answer (so are any more found while it does not: "
                               "discover/limits_unanswered); the next run finds them again", len(urls), source)
            return dict.fromkeys(urls, UNANSWERED)
        self.total, flags = answer
        return {url: VERDICTS[flag] for url, flag in zip(urls, flags)}
