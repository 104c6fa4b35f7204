"""The agent's search text as FTS5 terms and matched-term tiers."""

from __future__ import annotations

import pytest

from securellm.mcp.errors import InvalidInputError
from securellm.mcp.knowledge.fts import MAX_TERMS, MAX_TIERED_TERMS, parse_terms, tiers


def test_words_are_quoted_terms() -> None:
    assert parse_terms("deploy nix") == ['"deploy"', '"nix"']


def test_a_trailing_star_is_a_prefix() -> None:
    assert parse_terms("evict*") == ['"evict"*']


def test_quoted_words_are_one_phrase() -> None:
    assert parse_terms('"garbage collection" nix') == ['"garbage collection"', '"nix"']


def test_operators_and_punctuation_are_plain_words() -> None:
    assert parse_terms('NEAR(a, b) title:x -y "') == [
        '"NEAR"',
        '"a"',
        '"b"',
        '"title"',
        '"x"',
        '"y"',
    ]


def test_repeated_words_count_once() -> None:
    assert parse_terms("cache Cache cache") == ['"cache"']


def test_terms_are_capped() -> None:
    assert len(parse_terms(" ".join(f"w{n}" for n in range(100)))) == MAX_TERMS


def test_text_without_words_is_invalid() -> None:
    with pytest.raises(InvalidInputError, match="no words"):
        parse_terms('"" * -')


def test_all_mode_is_one_tier_of_every_term() -> None:
    assert tiers(['"a"', '"b"'], "all") == ['"a" AND "b"']


def test_any_mode_tiers_go_from_every_term_down_to_one() -> None:
    assert tiers(['"a"', '"b"', '"c"'], "any") == [
        '"a" AND "b" AND "c"',
        '(("a" AND "b") OR ("a" AND "c") OR ("b" AND "c")) NOT ("a" AND "b" AND "c")',
        '("a" OR "b" OR "c") NOT (("a" AND "b") OR ("a" AND "c") OR ("b" AND "c"))',
    ]


def test_many_terms_rank_past_all_terms_by_bm25_alone() -> None:
    terms = [f'"w{n}"' for n in range(MAX_TIERED_TERMS + 1)]
    assert len(tiers(terms, "any")) == 2


def test_a_one_letter_prefix_is_a_plain_word() -> None:
    assert parse_terms("a* ev*") == ['"a"', '"ev"*']
