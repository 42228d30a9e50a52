"""The language of a text, for pages that do not declare theirs.

py3langid (the maintained fork of langid.py, 97 languages, a model shipped in the
package, no network) classifies the text; its first call loads the model (~1 s),
later calls take well under a millisecond for the first few thousand characters.
"""

from __future__ import annotations

# Enough text to tell a language by; longer texts only cost time.
SAMPLE_CHARS = 3000
# Below this, a guess is noise (a caption, a title alone).
MIN_CHARS = 20


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the text's language, or None for too little text."""
    sample = text[:SAMPLE_CHARS]
    if len(sample.strip()) < MIN_CHARS:
        return None
    import py3langid  # here: only pages without a declared language need the model

    code, _ = py3langid.classify(sample)
    return code
