"""Reading the gateway's OpenAI embeddings answer."""

from __future__ import annotations

import pytest

from securellm.mcp.knowledge.embedder import EmbeddingUnavailableError, parse_embeddings


def test_vectors_come_back_in_index_order() -> None:
    reply = {"data": [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}]}
    assert [v.tolist() for v in parse_embeddings(reply, 2)] == [[1.0, 0.0], [0.0, 1.0]]


def test_one_vector_per_token_is_mean_pooled() -> None:
    reply = {"data": [{"index": 0, "embedding": [[1.0, 0.0], [0.0, 1.0]]}]}
    assert parse_embeddings(reply, 1)[0].tolist() == [0.5, 0.5]


def test_a_missing_vector_is_unavailable_not_a_crash() -> None:
    with pytest.raises(EmbeddingUnavailableError, match="wrong shape"):
        parse_embeddings({"data": []}, 1)


def test_a_vector_that_is_not_numbers_is_refused() -> None:
    with pytest.raises(EmbeddingUnavailableError, match="not numbers"):
        parse_embeddings({"data": [{"index": 0, "embedding": ["a", "b"]}]}, 1)


def test_vectors_of_different_lengths_are_refused() -> None:
    reply = {"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]}
    with pytest.raises(EmbeddingUnavailableError, match="differ"):
        parse_embeddings(reply, 2)
