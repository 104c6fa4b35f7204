"""Bytes of ``tools/list`` per tool group and for all, over stdio, beside the full schemas.

The compact list is what ``python -m securellm.mcp --tools GROUP`` sends (a real server
process, the raw JSON-RPC line); the baseline is the same tools as the SDK describes them
before :mod:`securellm.mcp.schema` (pydantic's schemas: titles, nested ``$defs``, nullable
``anyOf``), what the server sent before (about 35 KB for 22 tools) and what
``[mcp] tool_schemas = "full"`` still sends.
Run: ``.venv/bin/python benchmarks/mcp_tools_list.py``. Goal: all groups under 15 KB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio
from mcp.server.mcpserver import MCPServer
from mcp_types import ListToolsResult

from benchmarks.harness import table
from securellm.core.config import settings_from_mapping
from securellm.core.config.mcp import TOOL_GROUPS
from securellm.mcp.server import create_server

FRAMES = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        },
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
]


def wire_bytes(directory: Path, groups: str) -> tuple[int, int]:
    """Length of the tools/list response line and its tool count, from a real process."""
    config = directory / "securellm.toml"
    config.write_text(f'data_dir = "{directory}"\nstate_dir = "{directory}"\n')
    frames = "".join(json.dumps(frame) + "\n" for frame in FRAMES).encode()
    argv = [sys.executable, "-m", "securellm.mcp", "--config", str(config), "--tools", groups]
    env = {"HOME": str(directory), "PATH": "/usr/bin:/bin"}
    with subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    ) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(frames)
        process.stdin.flush()  # kept open until the answer: EOF would end the session first
        for line in process.stdout:
            message = json.loads(line)
            if message.get("id") == 2:
                process.stdin.close()
                return len(line.rstrip(b"\n")), len(message["result"]["tools"])
    raise RuntimeError("no tools/list response")


def uncompacted_bytes(directory: Path, groups: list[str]) -> int:
    """The same tools' list as the SDK builds it, serialised as the server serialises it."""
    raw = {"data_dir": directory, "state_dir": directory, "mcp": {"tools": groups}}
    server = create_server(settings_from_mapping(raw, env={}))
    tools = anyio.run(MCPServer.list_tools, server)
    body = ListToolsResult(tools=tools).model_dump(mode="json", by_alias=True, exclude_none=True)
    frame = {"jsonrpc": "2.0", "id": 2, "result": body}
    return len(json.dumps(frame, separators=(",", ":")))


def main() -> None:
    rows = [["groups", "tools", "full B (before)", "tools/list B", "~tokens (B/4)", "ratio"]]
    with tempfile.TemporaryDirectory() as tmp:
        for groups in [*([group] for group in TOOL_GROUPS), list(TOOL_GROUPS)]:
            name = ",".join(groups)
            size, count = wire_bytes(Path(tmp), name)
            before = uncompacted_bytes(Path(tmp), groups)
            label = "all" if len(groups) > 1 else name
            rows.append(
                [label, str(count), str(before), str(size), str(size // 4), f"{size / before:.2f}"]
            )
    print(table(rows))


if __name__ == "__main__":
    main()
