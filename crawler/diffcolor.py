"""Colour for `archive diff` on a terminal: removed words red, added words green.

Only ANSI escapes are added around the plain diff's own text, so the coloured output
with its escapes stripped is byte for byte the plain one (what a pipe gets): the
``[-removed-]`` / ``{+added+}`` markers stay, for copy and paste and for colour-blind
readers. ``--color auto`` colours a terminal unless NO_COLOR is set (https://no-color.org)
or TERM is dumb.
"""

from __future__ import annotations

import os
import re
from typing import IO

RED, GREEN, CYAN, BOLD, RESET = "\x1b[31m", "\x1b[32m", "\x1b[36m", "\x1b[1m", "\x1b[0m"
# word_diff's inline markers (crawler/dedup/changes.py), shortest match: a paragraph may
# hold many changes
REMOVED = re.compile(r"\[-.*?-\]")
ADDED = re.compile(r"\{\+.*?\+\}")
ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
CHOICES = ("auto", "always", "never")


def wants_colour(choice: str, stream: IO[str]) -> bool:
    """Whether to colour: ``always``, ``never``, or ``auto`` (a terminal, no NO_COLOR)."""
    if choice != "auto":
        return choice == "always"
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def colour_line(line: str) -> str:
    """One line of `archive diff` output, coloured by what it is."""
    if line.startswith(("--- ", "+++ ")):
        return f"{BOLD}{line}{RESET}"
    if line.startswith("@@"):
        return f"{CYAN}{line}{RESET}"
    if line.startswith("- "):
        return f"{RED}{line}{RESET}"
    if line.startswith("+ "):
        return f"{GREEN}{line}{RESET}"
    line = REMOVED.sub(lambda m: f"{RED}{m.group(0)}{RESET}", line)
    return ADDED.sub(lambda m: f"{GREEN}{m.group(0)}{RESET}", line)


def colour(text: str) -> str:
    """Every line of ``text`` coloured; line ends kept as they are."""
    return "".join(colour_line(line.rstrip("\n")) + line[len(line.rstrip("\n")):]
                   for line in text.splitlines(keepends=True))


def plain(text: str) -> str:
    """``text`` without its ANSI colour escapes."""
    return ESCAPE.sub("", text)
