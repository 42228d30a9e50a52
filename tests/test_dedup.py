"""Fingerprints and change sizes: pure functions of text."""

import random
import re
import unicodedata

import pytest

from crawler.dedup import ChangeSize, change_size, hamming, normalize_for_hash, simhash, simhash_bands, version_hash
from crawler.dedup.fingerprint import _drop_spaces_around_punctuation
from crawler.extract import Article

TEXT = " ".join(f"Câu số {i} nói về Meta, OpenAI và cuộc đua nhân tài AI ở Thung lũng Silicon." for i in range(60))


@pytest.mark.parametrize(("a", "b"), [
    ("l'IA « superintelligence » — 2025…", "l’IA \"superintelligence\" - 2025..."),
    ("Un  paragraphe\n\nsuivant", "Un paragraphe suivant"),
    ("cafe\u0301", "café"),  # NFD vs NFC
    ("mot\u00a0: texte", "mot: texte"),
    ("zero\u200bwidth", "zerowidth"),
])
def test_cosmetic_differences_normalise_away(a, b):
    assert normalize_for_hash(a) == normalize_for_hash(b)


def test_real_edits_do_not_normalise_away():
    assert normalize_for_hash("14 milliards") != normalize_for_hash("15 milliards")
    assert normalize_for_hash("Meta") != normalize_for_hash("meta")


def article(**fields):
    base = dict(url="https://znews.vn/a-post1.html", title="T", authors=("A",), published_at=None, modified_at=None,
                language="vi", section=None, tags=(), summary=None, text=TEXT)
    return Article(**{**base, **fields})


def test_version_hash_ignores_tags_and_section_but_not_title():
    assert version_hash(article()) == version_hash(article(tags=("x",), section="y"))
    assert version_hash(article()) != version_hash(article(title="T2"))


def test_simhash_is_stable_signed_64_bit_and_near_for_small_edits():
    fingerprint = simhash(TEXT)
    assert fingerprint == simhash(TEXT) and -(2**63) <= fingerprint < 2**63
    edited = TEXT.replace("Câu số 30", "Đoạn số 30")
    assert hamming(fingerprint, simhash(edited)) <= 3
    assert hamming(fingerprint, simhash("Một bài báo hoàn toàn khác về bóng đá và thời tiết. " * 40)) > 10


def test_bands_partition_the_fingerprint():
    fingerprint = simhash(TEXT)
    bands = simhash_bands(fingerprint)
    assert len(bands) == 4 and all(0 <= b < 2**16 for b in bands)
    assert sum(b << (16 * i) for i, b in enumerate(bands)) == fingerprint & (2**64 - 1)


def test_change_size_counts_words_and_characters():
    assert change_size(None, "a bb ccc") == ChangeSize(chars_added=6, chars_removed=0, words_added=3, words_removed=0)
    size = change_size("Meta a dépensé 14 milliards", "Meta a dépensé 15 milliards hier")
    assert (size.words_added, size.words_removed) == (2, 1)
    assert (size.chars_added, size.chars_removed) == (len("15") + len("hier"), len("14"))


def test_fingerprint_is_the_hash_and_simhash_and_travels_with_the_article():
    """Computed once (in the extraction worker during a crawl), pickled with the article, kept by
    a replace() of a field it does not cover, recomputed when one it covers changes."""
    import pickle
    from dataclasses import replace

    from crawler.dedup.fingerprint import fingerprint

    original = article()
    found = fingerprint(original)
    assert (found.content_hash, found.simhash) == (version_hash(original), simhash(TEXT))
    travelled = replace(pickle.loads(pickle.dumps(original)), cited_url="https://znews.vn/b-post2.html")
    assert travelled.fingerprint_memo is not None and fingerprint(travelled) == found
    edited = replace(travelled, text=TEXT.replace("Câu số 30", "Đoạn số 30"))
    assert fingerprint(edited).content_hash == version_hash(edited) != found.content_hash
    assert fingerprint(edited).simhash == simhash(edited.text)
    assert original == replace(original, fingerprint_memo=None)  # a cache: never part of equality
    assert "fingerprint_memo" not in original.as_dict()


# What normalize_for_hash did to spaces around punctuation before issue 11 replaced the
# regex with str.replace: archived content hashes were made with it, so the two must agree.
FORMER_SPACE_AROUND_PUNCT = re.compile(r" ([\"']) ?| ([,.;:!?%)\]])|([\"']) ?|([(\[]) ")


def test_spaces_around_punctuation_go_as_the_former_regex_made_them_go():
    rng = random.Random(11)
    alphabet = "ab  \"',.;:!?%)]([«»-é\u00a0\n"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40))) for _ in range(20_000)]
    texts += [TEXT, "mot : « x » ( y ) [ z ] 50 % !", '" a " , \' b \' ( ) [ ] " " \' \' ,, ( ,']
    for text in texts:
        spaced = " ".join(unicodedata.normalize("NFC", text).split())
        assert _drop_spaces_around_punctuation(spaced) == FORMER_SPACE_AROUND_PUNCT.sub(r"\1\2\3\4", spaced), text
