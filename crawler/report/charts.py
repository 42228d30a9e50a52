"""The report's charts: matplotlib (Agg, no display) drawn to SVG strings for inline use.

Text stays text (``svg.fonttype: none``): the browser draws it with its own fonts, which
keeps a chart to a few kilobytes instead of tens of kilobytes of glyph outlines, and
``svg.hashsalt`` with no date makes the same archive give the same page.
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")  # before pyplot: never look for a display (cron, CI, a server)
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"svg.fonttype": "none", "svg.hashsalt": "archive-report", "font.size": 9,
         "axes.spines.top": False, "axes.spines.right": False}
SIZE = (6.4, 2.2)  # inches: two charts side by side fit a 1200-pixel window
# above this many bars or points the x labels are thinned to about this many
MAX_TICKS = 12
# a bar chart is at least this many bars wide
MIN_BARS = 7


def bars(labels: list[str], values: list[float], title: str, ylabel: str) -> str:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SIZE)
        ax.bar(range(len(values)), values, color="#4c72b0")
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # counts: no 0.2 of a version
        _label_x(ax, labels)
        ax.set_xlim(-0.6, max(len(labels), MIN_BARS) - 0.4)  # one day is one bar, not the whole width
        return _finish(fig, ax, title, ylabel)


def lines(labels: list[str], series: dict[str, list[float | None]], title: str, ylabel: str,
          percent: bool = False, baseline: float | None = None) -> str:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SIZE)
        for name, values in series.items():
            ax.plot(range(len(values)), [float("nan") if v is None else v for v in values], marker="o",
                    markersize=3, label=name)
        if baseline is not None:
            ax.axhline(baseline, color="grey", linestyle="--", linewidth=1, label="baseline")
        if percent:
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
            ax.set_ylim(0, 1.05)
        _label_x(ax, labels)
        if len(series) > 1 or baseline is not None:
            ax.legend(loc="best", frameon=False)
        return _finish(fig, ax, title, ylabel)


def _label_x(ax, labels: list[str]) -> None:  # noqa: ANN001 - a matplotlib Axes
    step = max(1, -(-len(labels) // MAX_TICKS))
    ticks = list(range(0, len(labels), step))
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=30 if len(labels) > 4 else 0, ha="right"
                  if len(labels) > 4 else "center")
    ax.set_xlim(-0.6, max(len(labels), 1) - 0.4)


def _finish(fig, ax, title: str, ylabel: str) -> str:  # noqa: ANN001
    ax.set_title(title, loc="left")
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    plt.close(fig)
    # the <svg> element alone: the XML declaration and DOCTYPE do not belong inside HTML
    return re.sub(r"^.*?(?=<svg)", "", out.getvalue(), flags=re.S)
