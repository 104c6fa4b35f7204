"""Session-wide fixtures shared by every area: the real local model server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.llama import llama_server


@pytest.fixture(scope="session")
def llama_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real llama.cpp-based server with Gemma 3 270M (one per test session), ``…/v1``."""
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with llama_server(log) as url:
        yield url
