"""Binary (sign) codes of the vectors: a fast first pass for nearest-neighbour search.

Exact search over 100,000 x 768 float32 reads ~300 MB per query and is memory-bound (~20 ms
here). One bit per dimension (the sign) is 96 bytes a vector, 32x less to read; the Hamming
distance between two sign codes estimates the angle between the vectors. The codes pick
``candidates`` rows, and those are rescored exactly in float32, so the scores returned are
exact and only the choice of rows is approximate (recall is measured in
``benchmarks/mcp_semantic.py``). Codes are stored word-major (``(words, rows)`` uint64) so
each pass over them is a contiguous XOR + popcount of one column of words.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Codes = npt.NDArray[np.uint64]
WORD_BYTES = 8


def words_for(dim: int) -> int:
    """uint64 words in the code of a ``dim``-float vector."""
    return -(-dim // (8 * WORD_BYTES))


def sign_codes(rows: npt.NDArray[np.float32]) -> Codes:
    """The sign codes of ``rows`` (n, dim), word-major: shape ``(words, n)``."""
    bits = np.packbits(rows > 0, axis=1)
    padded = np.zeros((rows.shape[0], words_for(rows.shape[1]) * WORD_BYTES), dtype=np.uint8)
    padded[:, : bits.shape[1]] = bits
    return np.ascontiguousarray(padded.view(np.uint64).T)


def hamming(codes: Codes, query: Codes, size: int) -> npt.NDArray[np.uint16]:
    """Bits differing between ``query`` (words, 1) and each of the first ``size`` codes."""
    distance = np.zeros(size, dtype=np.uint16)
    scratch = np.empty(size, dtype=np.uint64)
    counts = np.empty(size, dtype=np.uint8)
    for word in range(codes.shape[0]):
        np.bitwise_xor(codes[word, :size], query[word, 0], out=scratch)
        np.bitwise_count(scratch, out=counts)
        distance += counts
    return distance


def candidate_rows(
    codes: Codes, query: npt.NDArray[np.float32], size: int, n: int
) -> npt.NDArray[np.intp]:
    """The ``n`` rows (of the first ``size``) whose codes are nearest to ``query``'s."""
    distance = hamming(codes, sign_codes(query.reshape(1, -1)), size)
    if n >= size:
        return np.arange(size)
    return np.argpartition(distance, n - 1)[:n]
