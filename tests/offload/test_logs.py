"""Model server logs: bounded files, tail and follow, the API route and the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from securellm.cli.main import app
from securellm.core.config import Settings
from securellm.offload.api import create_app
from securellm.offload.logs import BoundedLog, follow, server_log_path, tail
from support.asgi_server import serve_app
from support.require import free_port, missing

from .conftest import TinyWriter, write_loadable_llama


def _lines(count: int, start: int = 0) -> bytes:
    return b"".join(f"line {i}\n".encode() for i in range(start, start + count))


def test_the_log_never_holds_more_than_two_files_of_max_bytes(tmp_path: Path) -> None:
    log = BoundedLog(tmp_path / "m.log", max_bytes=4096)
    for i in range(200):
        log.write(_lines(10, i * 10))
    log.close()
    sizes = [p.stat().st_size for p in tmp_path.iterdir()]
    assert len(sizes) == 2
    assert max(sizes) <= 4096


def test_tail_reads_across_the_rotation(tmp_path: Path) -> None:
    log = BoundedLog(tmp_path / "m.log", max_bytes=100)
    log.write(_lines(8))
    log.write(_lines(2, 8))
    log.close()
    assert tail(tmp_path / "m.log", 3) == _lines(3, 7)


def test_a_new_server_starts_a_new_file_and_keeps_the_last_one(tmp_path: Path) -> None:
    first = BoundedLog(tmp_path / "m.log", max_bytes=4096)
    first.write(b"first run\n")
    first.close()
    BoundedLog(tmp_path / "m.log", max_bytes=4096).close()
    assert (tmp_path / "m.log").read_bytes() == b""
    assert (tmp_path / "m.log.1").read_bytes() == b"first run\n"


def test_log_names_carry_no_separator_from_the_id(tmp_path: Path) -> None:
    assert server_log_path(tmp_path, "../gemma3:270m").name == "_gemma3_270m.log"


async def _collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def test_follow_yields_what_is_appended_until_the_server_stops(tmp_path: Path) -> None:
    log = BoundedLog(tmp_path / "m.log", max_bytes=4096)
    log.write(b"loaded\n")
    running = True

    async def writer() -> None:
        nonlocal running
        for i in range(3):
            await asyncio.sleep(0.05)
            log.write(f"request {i}\n".encode())
        running = False

    task = asyncio.create_task(writer())
    got = await _collect(follow(tmp_path / "m.log", 10, lambda: running, poll_s=0.01))
    await task
    assert got == b"loaded\nrequest 0\nrequest 1\nrequest 2\n"


async def test_follow_keeps_reading_through_a_rotation(tmp_path: Path) -> None:
    log = BoundedLog(tmp_path / "m.log", max_bytes=64)
    running = True

    async def writer() -> None:
        nonlocal running
        for i in range(12):
            await asyncio.sleep(0.02)
            log.write(f"chunk {i:02d}\n".encode())
        await asyncio.sleep(0.1)
        running = False

    task = asyncio.create_task(writer())
    got = await _collect(follow(tmp_path / "m.log", 0, lambda: running, poll_s=0.005))
    await task
    assert got == b"".join(f"chunk {i:02d}\n".encode() for i in range(12))


@pytest.fixture
def settings(
    tmp_path: Path, tiny_gguf: TinyWriter, make_settings: Callable[..., Settings]
) -> Settings:
    tiny_gguf(tmp_path / "models" / "tiny.gguf")
    built = make_settings(model_dirs=[str(tmp_path / "models")], port=free_port())
    log = BoundedLog(server_log_path(built.log_dir / "offload", "tiny"), 4096)
    log.write(_lines(5))
    log.close()
    return built


def test_the_api_answers_the_last_lines(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.get("/models/tiny/logs", params={"lines": 2})
    assert (response.status_code, response.content) == (200, _lines(2, 3))


def test_following_a_model_that_is_not_loaded_ends_after_its_tail(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.get("/models/tiny/logs", params={"follow": "true", "lines": 1})
    assert response.content == _lines(1, 4)


@pytest.mark.parametrize("query", [{"lines": "many"}, {"lines": "-1"}, {"follow": "maybe"}])
def test_bad_parameters_are_400_in_the_error_shape(
    settings: Settings, query: dict[str, str]
) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.get("/models/tiny/logs", params=query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_logs_of_an_unknown_model_are_404(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/models/ghost/logs").status_code == 404


def _config_file(settings: Settings, tmp_path: Path) -> Path:
    path = tmp_path / "cli.toml"
    path.write_text(
        f'log_dir = "{settings.log_dir}"\n[offload]\nport = {settings.offload.port}\n'
        f'registry_path = "{settings.offload.registry_path}"\n'
    )
    return path


def test_the_cli_prints_the_log_through_a_running_offload(
    settings: Settings, tmp_path: Path
) -> None:
    with serve_app(create_app(settings), port=settings.offload.port):
        result = CliRunner().invoke(
            app, ["offload", "logs", "tiny", "-n", "2", "-c", str(_config_file(settings, tmp_path))]
        )
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == _lines(2, 3)


def test_the_cli_reads_the_file_when_offload_is_down(settings: Settings, tmp_path: Path) -> None:
    config = _config_file(settings, tmp_path)
    result = CliRunner().invoke(app, ["offload", "logs", "tiny", "-n", "1", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == _lines(1, 4)


@pytest.fixture
async def live(tmp_path: Path, make_settings: Callable[..., Settings]) -> AsyncIterator[str]:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing("llama-cpp-python (llama_cpp)")
    (tmp_path / "live").mkdir()
    write_loadable_llama(tmp_path / "live" / "tiny-llama-F16.gguf")
    settings = make_settings(model_dirs=[str(tmp_path / "live")], default_ctx=256)
    with serve_app(create_app(settings)) as base:
        yield base


@pytest.mark.llama
async def test_a_real_server_log_is_followed_until_it_is_unloaded(live: str) -> None:
    async with aiohttp.ClientSession() as session:
        await (await session.post(f"{live}/models/tiny-llama/load")).read()
        url = f"{live}/models/tiny-llama/logs?follow=true&lines=10000"
        async with session.get(url) as answer:
            first = await answer.content.readline()
            await (await session.post(f"{live}/models/tiny-llama/unload")).read()
            rest = await answer.content.read()
    text = (first + rest).decode(errors="replace")
    assert "llama" in text.lower()  # llama.cpp's own load output reached the file
    assert answer.status == 200
