"""`archive report`: what the archive holds and how each source's crawl is going, per source.

data.py reads the archive into plain records (portable SQL: SQLite and PostgreSQL);
health.py shows the crawl's extraction health (archive/health.py: the same measures, baseline, thresholds);
charts.py draws them with matplotlib (SVG text, inline); page.py writes the self-contained
HTML page and text.py the plain-text summary.
"""

from .data import SourceReport, gather

__all__ = ["SourceReport", "gather"]
