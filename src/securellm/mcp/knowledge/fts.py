"""The agent's search text as FTS5 query expressions, without ever passing its syntax through.

``"garbage collection"`` is a phrase, ``evict*`` a prefix (of two letters or more), every
other run of letters and digits a word. Each term is re-quoted from its words alone, so a
stray ``"``, ``NEAR(``, a column filter (``title:``) or ``-`` is plain text, never an
operator or a syntax error.
"""

from __future__ import annotations

import re
from itertools import combinations
from typing import Literal

from securellm.mcp.errors import InvalidInputError

MAX_TERMS = 32
MIN_PREFIX = 2
# Above this many terms, mode=any stops counting matched terms exactly (the subsets grow as
# n choose k) and ranks everything past "all terms" by bm25 alone.
MAX_TIERED_TERMS = 5
_TOKEN = re.compile(r'"([^"]*)"(\*?)|(\w+)(\*?)', re.UNICODE)
_WORD = re.compile(r"\w+", re.UNICODE)


def parse_terms(text: str) -> list[str]:
    """``evict* "garbage collection" -x`` → ``['"evict"*', '"garbage collection"', '"x"']``."""
    terms: list[str] = []
    seen: set[str] = set()
    for match in _TOKEN.finditer(text):
        phrase, phrase_star, word, word_star = match.groups()
        words = _WORD.findall(phrase) if phrase is not None else [word]
        if not words:
            continue
        # A one-letter prefix would merge a large part of the vocabulary: it is a word.
        prefix = bool(phrase_star or word_star) and len(words[-1]) >= MIN_PREFIX
        term = '"' + " ".join(words) + '"' + ("*" if prefix else "")
        if term.lower() not in seen:
            seen.add(term.lower())
            terms.append(term)
        if len(terms) == MAX_TERMS:
            break
    if not terms:
        raise InvalidInputError("the search query has no words to search for")
    return terms


def at_least(terms: list[str], k: int) -> str:
    """An expression matching entries that contain at least ``k`` of ``terms``."""
    if k <= 1:
        return " OR ".join(terms)
    if k >= len(terms):
        return " AND ".join(terms)
    return " OR ".join("(" + " AND ".join(group) + ")" for group in combinations(terms, k))


def tiers(terms: list[str], mode: Literal["all", "any"]) -> list[str]:
    """Expressions to run in order, best first; each matches entries no earlier one did.

    ``all``: one tier, every term. ``any``: entries with all ``n`` terms, then exactly
    ``n-1``, ... down to one, so an entry matching more distinct terms always ranks higher
    and bm25 orders each tier.
    """
    n = len(terms)
    everything = at_least(terms, n)
    if mode == "all" or n == 1:
        return [everything]
    if n > MAX_TIERED_TERMS:
        return [everything, f"({at_least(terms, 1)}) NOT ({everything})"]
    exact = [f"({at_least(terms, k)}) NOT ({at_least(terms, k + 1)})" for k in range(n - 1, 0, -1)]
    return [everything, *exact]
