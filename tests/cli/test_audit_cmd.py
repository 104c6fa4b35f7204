"""``securellm audit verify|query|export`` on a trail written by the real writer."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from securellm.cli.main import app
from securellm.core.db import create_engine
from securellm.gateway.audit.writer import AuditWriter
from securellm.gateway.context import RequestContext
from securellm.gateway.keys import KeyRecord
from securellm.gateway.migrations import upgrade

runner = CliRunner()
LAPTOP = KeyRecord(id="key_laptop", name="laptop")
CI = KeyRecord(id="key_ci", name="ci")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "securellm.toml"
    path.write_text(f'data_dir = "{tmp_path}/data"\n\n[audit]\ndir = "{tmp_path}/audit"\n')
    return path


async def populate(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/data/gateway.db")
    await upgrade(engine)
    writer = AuditWriter(tmp_path / "audit", engine=engine)
    await writer.start()
    for i in range(6):
        ctx = RequestContext(endpoint="chat", key=LAPTOP if i % 2 else CI)
        ctx.model, ctx.provider = ("local/gemma" if i < 4 else "deepseek/deepseek-chat"), "p"
        ctx.status, ctx.outcome = (200, "ok") if i != 5 else (429, "rate_limited")
        writer.record(ctx)
    await writer.close()
    await engine.dispose()


@pytest.fixture
def trail(tmp_path: Path, config: Path) -> Path:
    asyncio.run(populate(tmp_path))
    return tmp_path / "audit"


def test_verify_passes_and_says_where_the_chain_ends(config: Path, trail: Path) -> None:
    result = runner.invoke(app, ["audit", "verify", str(trail), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "chain ends at audit-" in result.output and ":6" in result.output


def test_verify_uses_the_configured_directory_by_default(config: Path, trail: Path) -> None:
    result = runner.invoke(app, ["audit", "verify", "--config", str(config)])
    assert result.exit_code == 0
    assert "6 record(s): ok" in result.output


def test_verify_fails_with_file_and_line_of_the_tampering(config: Path, trail: Path) -> None:
    path = next(trail.glob("audit-*.jsonl"))
    content = path.read_bytes().splitlines(keepends=True)
    content[3] = content[3].replace(b'"status":200', b'"status":201')
    path.write_bytes(b"".join(content))
    result = runner.invoke(app, ["audit", "verify", str(trail), "--config", str(config)])
    assert result.exit_code == 1
    assert f"{path.name}:4: edited" in result.output


def test_verify_fails_when_the_only_file_was_deleted(config: Path, trail: Path) -> None:
    path = next(trail.glob("audit-*.jsonl"))
    path.unlink()
    result = runner.invoke(app, ["audit", "verify", str(trail), "--config", str(config)])
    assert result.exit_code == 1
    assert f"{path.name}:0: deleted: the file is missing (6 record(s) in it)" in result.output


def test_verify_reports_a_torn_line_the_gateway_closed_off_and_passes(
    config: Path, trail: Path, tmp_path: Path
) -> None:
    path = next(trail.glob("audit-*.jsonl"))
    path.write_bytes(path.read_bytes()[:-40])  # the last record cut by a crash

    async def restart() -> None:
        writer = AuditWriter(tmp_path / "audit")
        await writer.start()
        await writer.close()

    asyncio.run(restart())
    result = runner.invoke(app, ["audit", "verify", str(trail), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert f"repaired: {path.name}:6: a record torn by a crash" in result.output
    assert "6 record(s): ok" in result.output


def test_verify_of_a_missing_directory_exits_2(config: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["audit", "verify", str(tmp_path / "nope"), "--config", str(config)]
    )
    assert result.exit_code == 2


def test_query_filters_by_key_name_and_model(config: Path, trail: Path) -> None:
    result = runner.invoke(
        app,
        [
            "audit",
            "query",
            "--config",
            str(config),
            "--key",
            "laptop",
            "--model",
            "local/gemma",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 2
    assert {(r["key_id"], r["model"]) for r in rows} == {("key_laptop", "local/gemma")}


def test_query_filters_by_status_and_time(config: Path, trail: Path) -> None:
    args = ["audit", "query", "--config", str(config), "--status", "429", "--since", "1h", "--json"]
    result = runner.invoke(app, args)
    assert [orjson.loads(line)["outcome"] for line in result.output.splitlines()] == [
        "rate_limited"
    ]


def test_query_prints_a_table(config: Path, trail: Path) -> None:
    result = runner.invoke(app, ["audit", "query", "--config", str(config)])
    assert result.exit_code == 0
    assert "6 row(s)" in result.output and "laptop" in result.output


def test_query_refuses_a_bad_time(config: Path, trail: Path) -> None:
    result = runner.invoke(app, ["audit", "query", "--config", str(config), "--since", "soon"])
    assert result.exit_code == 2


def test_export_csv_has_a_header_and_every_row(config: Path, trail: Path, tmp_path: Path) -> None:
    out = tmp_path / "export.csv"
    args = ["audit", "export", "--config", str(config), "--format", "csv", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 6
    assert {"ts", "request_id", "key_id", "model", "cost_usd", "file", "line"} <= rows[0].keys()


def test_export_jsonl_by_provider(config: Path, trail: Path) -> None:
    result = runner.invoke(app, ["audit", "export", "--config", str(config), "--provider", "p"])
    assert result.exit_code == 0
    assert len(result.output.splitlines()) == 6


def test_export_refuses_an_unknown_format(config: Path) -> None:
    result = runner.invoke(app, ["audit", "export", "--config", str(config), "--format", "xml"])
    assert result.exit_code == 2
