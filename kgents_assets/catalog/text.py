"""Text handling shared by the embedders and keyword search: code-aware tokens, stop
words, deterministic truncation and the text an entry is embedded from."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

#: What is embedded is bounded: neural models read ~256 word pieces anyway, and a bound
#: keeps the hashing embedder's cost per entry flat.
MAX_EMBED_CHARS = 8_000
TRUNCATION_MARK = "…"


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


ENGLISH_STOP_WORDS = _word_set(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours yourself
    yourselves also may might must shall us via etc e g ie eg"""
)

#: Words every piece of Python code is full of: as features they only add noise.
CODE_NOISE_WORDS = _word_set(
    "self cls def none true false pass elif else return kwargs args lambda"
)

STOP_WORDS = ENGLISH_STOP_WORDS | CODE_NOISE_WORDS

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")
#: The identifiers among ``_WORD``'s words, as a split group: a digit run is never
#: expanded, so it stays in the gaps (fewer pieces), and where a digit run meets letters
#: ("2abc") the group starts at the letter, as ``_WORD``'s next word does.
_IDENTIFIER_GROUP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)")
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters (plus a mark), deterministically.

    The cut backs off to the last whitespace in the final tenth of the window, so a word is
    not split in half; the same input always gives the same output.
    """
    if len(text) <= limit:
        return text
    window = text[:limit]
    space = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
    if space >= limit - limit // 10:
        window = window[:space]
    return window.rstrip() + TRUNCATION_MARK


def split_identifier(word: str) -> list[str]:
    """``parseHTTPConfig_v2`` -> ``['parse', 'http', 'config', 'v', '2']``."""
    parts: list[str] = []
    for chunk in word.split("_"):
        parts.extend(p.lower() for p in _CAMEL_PART.findall(chunk))
    return parts


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A small, deterministic suffix stripper: ``parses``/``parsed``/``parsing`` -> ``pars``.

    Not Porter: just enough that inflections meet in the hashing embedder's feature space.
    A plural comes off first, then a verb ending, so ``meetings`` and ``meeting`` both end
    at ``meet``.
    """
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("es") and not w.endswith("sses"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]
    return w


@lru_cache(maxsize=262_144)
def word_tokens(word: str) -> tuple[str, ...]:
    """The tokens one word of text contributes (see ``tokens``); cached: code repeats its
    identifiers, and splitting them is most of the cost of tokenising."""
    parts = split_identifier(word)
    out: list[str] = []
    if len(parts) > 1:
        joined = word.lower().strip("_")
        if joined not in STOP_WORDS:
            out.append(joined)
    out.extend(p for p in parts if p not in STOP_WORDS and len(p) > 1)
    return tuple(out)


def words(text: str) -> list[str]:
    """The raw words of ``text`` (identifiers and digit runs) in order."""
    return _WORD.findall(text)


def tokens(text: str) -> list[str]:
    """Lower-case word tokens with identifiers split into parts, stop words dropped.

    A compound identifier also yields itself (``parse_config``), so an exact name in a
    query still matches more strongly than its parts alone.
    """
    return [t for word in _WORD.findall(text) for t in word_tokens(word)]


def query_terms(query: str) -> list[str]:
    """The searchable terms of a query, in order, without duplicates."""
    return list(dict.fromkeys(tokens(query)))


def _expand_word(word: str) -> str:
    parts = split_identifier(word)
    return word if len(parts) <= 1 else f"{word} {' '.join(parts)}"


class _Expanded(dict[str, str]):
    """word -> its expansion: a hit is one dict lookup (``map(memo.__getitem__, ...)``
    runs without a Python frame per word, unlike ``lru_cache``); emptied at ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def __missing__(self, word: str) -> str:
        if len(self) >= self._limit:
            self.clear()
        value = self[word] = _expand_word(word)
        return value


_EXPANDED = _Expanded(262_144)


def expand_identifiers(text: str) -> str:
    """Text for Postgres full-text search: each compound identifier followed by its parts,
    so ``to_tsvector`` can match ``config`` inside ``parseConfig``."""
    # split() with the identifier as a group alternates [gap, word, gap, ..., gap]: the
    # words are replaced through the memo in one C loop (a cold load expands ~44k bodies;
    # Django: 5.0 s with every word of ``_WORD`` through an lru_cache, 3.2-3.6 s so)
    pieces = _IDENTIFIER_GROUP.split(text)
    pieces[1::2] = map(_EXPANDED.__getitem__, pieces[1::2])
    return "".join(pieces)


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
