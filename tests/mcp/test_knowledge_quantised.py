"""Sign codes: Hamming distance between codes, candidates for exact rescoring."""

from __future__ import annotations

import numpy as np

from securellm.mcp.knowledge.quantised import candidate_rows, hamming, sign_codes, words_for
from securellm.mcp.knowledge.vectors import VectorIndex


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors around a few hundred centres, like the embeddings of related notes."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((300, dim)).astype(np.float32)
    rows = centres[rng.integers(0, 300, n)] + 0.8 * rng.standard_normal((n, dim))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_a_code_has_one_bit_per_dimension_padded_to_whole_words() -> None:
    codes = sign_codes(np.ones((3, 100), dtype=np.float32))
    assert codes.shape == (words_for(100), 3) == (2, 3)
    assert int(np.bitwise_count(codes[:, 0]).sum()) == 100


def test_hamming_counts_the_dimensions_whose_signs_differ() -> None:
    rows = np.ones((2, 70), dtype=np.float32)
    rows[1, :5] = -1
    query = sign_codes(np.ones((1, 70), dtype=np.float32))
    assert hamming(sign_codes(rows), query, 2).tolist() == [0, 5]


def test_the_candidates_include_the_row_equal_to_the_query() -> None:
    rows = clustered(5000, 128, seed=1)
    assert 1234 in candidate_rows(sign_codes(rows), rows[1234], 5000, 50).tolist()


def test_a_large_index_finds_the_exact_top_ten_of_clustered_vectors() -> None:
    *rows, query = clustered(3001, 96, seed=2)
    fast, exact = VectorIndex("m", fast_from=1000, candidates=300), VectorIndex("m")
    for entry_id, row in enumerate(rows, start=1):
        fast.put(entry_id, row)
        exact.put(entry_id, row)
    assert fast.nearest(query, 10) == exact.nearest(query, 10)


def test_a_vector_changed_after_the_codes_were_built_is_found_by_its_new_value() -> None:
    rows = clustered(2000, 64, seed=4)
    index = VectorIndex("m", fast_from=1000, candidates=100)
    for entry_id, row in enumerate(rows, start=1):
        index.put(entry_id, row)
    index.nearest(rows[0], 1)  # builds the codes
    index.put(7, -rows[0])
    assert index.nearest(-rows[0], 1)[0][0] == 7
