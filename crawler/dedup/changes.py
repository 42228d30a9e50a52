"""How much a text changed between two versions, and a word-aware diff for people."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class ChangeSize:
    chars_added: int
    chars_removed: int
    words_added: int
    words_removed: int


def change_size(old: str | None, new: str) -> ChangeSize:
    """Words and characters added and removed, from a word-level diff (first version: all added)."""
    # words are runs of non-whitespace (str.split: what r"\S+" finds, 3x faster)
    old_words, new_words = (old or "").split(), new.split()
    if not old_words:  # a first version: no diff to run (difflib indexed every word: 0.7 ms a new article)
        return ChangeSize(sum(map(len, new_words)), 0, len(new_words), 0)
    added = removed = chars_added = chars_removed = 0
    matcher = difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed += i2 - i1
            chars_removed += sum(len(w) for w in old_words[i1:i2])
        if tag in ("replace", "insert"):
            added += j2 - j1
            chars_added += sum(len(w) for w in new_words[j1:j2])
    return ChangeSize(chars_added, chars_removed, added, removed)


def word_diff(old: str, new: str, old_label: str = "old", new_label: str = "new", context: int = 1) -> str:
    """A unified diff by paragraph in which changed paragraphs show ``[-removed-]{+added+}`` words."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    out = [f"--- {old_label}", f"+++ {new_label}"]
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        out.append(f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(f"  {line}" for line in old_lines[i1:i2])
            elif tag == "replace" and i2 - i1 == j2 - j1:
                out.extend(f"~ {_inline(a, b)}" for a, b in zip(old_lines[i1:i2], new_lines[j1:j2]))
            else:
                out.extend(f"- {line}" for line in old_lines[i1:i2])
                out.extend(f"+ {line}" for line in new_lines[j1:j2])
    return "\n".join(out) + "\n"


def _inline(old: str, new: str) -> str:
    a, b = old.split(" "), new.split(" ")
    parts = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            parts.append(" ".join(a[i1:i2]))
            continue
        if i2 > i1:
            parts.append("[-" + " ".join(a[i1:i2]) + "-]")
        if j2 > j1:
            parts.append("{+" + " ".join(b[j1:j2]) + "+}")
    return " ".join(parts)
