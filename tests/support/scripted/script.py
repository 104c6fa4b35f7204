"""What the scripted upstream answers, whatever dialect the request came in.

A request is reduced to a :class:`Turn` (the tools it offers, whether a tool result is in
it); the script turns that into a :class:`Reply`:

- tools offered and no tool result yet: ONE call to the client's shell tool (picked by name
  from the offered tools, arguments built from that tool's own JSON schema) running
  :data:`COMMAND`, which writes :data:`SENTINEL_TEXT` into :data:`SENTINEL_FILE` in the
  client's working directory;
- after a tool result: a final text holding :data:`FINAL_MARKER`;
- no tools offered (title generation, small-model side calls): a short :data:`SIDE_TEXT`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

SENTINEL_FILE = "done.txt"
SENTINEL_TEXT = "securellm-ok"
COMMAND = f"printf '{SENTINEL_TEXT}' > {SENTINEL_FILE}"
FINAL_MARKER = "SECURELLM-TASK-DONE"
FINAL_TEXT = f"{FINAL_MARKER}: {SENTINEL_FILE} is written."
SIDE_TEXT = "Scripted upstream side reply."
# Shell tools as each client names them, most specific first.
SHELL_TOOLS = (
    "Bash",  # Claude Code, Continue
    "bash",  # opencode
    "shell_command",  # Codex (string command)
    "exec_command",  # Codex (unified exec)
    "shell",  # Codex (argv command)
    "execute_command",  # Cline
    "run_terminal_command",  # Continue
    "local_shell",  # Responses built-in tool
    "run_command",
    "run_shell_command",
)
COMMAND_FIELDS = ("command", "cmd", "commands", "script")
# File-writing tools, for a client whose only tool writes files (llm with a function).
WRITE_TOOLS = ("write_file", "Write", "write", "write_to_file", "create_file")
PATH_FIELDS = ("path", "file_path", "filePath", "filename")
CONTENT_FIELDS = ("content", "contents", "text")
ToolKind = Literal["function", "custom", "local_shell"]
ReplyKind = Literal["tool_call", "final", "side"]


@dataclass(frozen=True)
class Tool:
    name: str
    schema: dict[str, Any] = field(default_factory=dict)
    kind: ToolKind = "function"


@dataclass(frozen=True)
class Turn:
    """What the script looks at: the offered tools and whether a tool already ran."""

    tools: tuple[Tool, ...]
    has_tool_result: bool
    text: str  # every user and system text of the request, joined


@dataclass(frozen=True)
class ToolCall:
    tool: Tool
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    text: str = ""
    call: ToolCall | None = None


Script = Callable[[Turn], Reply]


def pick_shell_tool(tools: tuple[Tool, ...]) -> Tool | None:
    """The offered tool that runs a shell command, by the names clients give it."""
    by_name = {tool.name: tool for tool in tools}
    for name in SHELL_TOOLS:
        if name in by_name:
            return by_name[name]
    for tool in tools:
        if set(_properties(tool)) & set(COMMAND_FIELDS):
            return tool
    return None


def pick_write_tool(tools: tuple[Tool, ...]) -> Tool | None:
    """The offered tool that writes a file (a path and a content argument)."""
    for tool in tools:
        names = set(_properties(tool))
        if tool.name in WRITE_TOOLS and names & set(PATH_FIELDS) and names & set(CONTENT_FIELDS):
            return tool
    return None


def write_arguments(tool: Tool) -> dict[str, Any]:
    """Arguments for a file-writing tool that write the sentinel file."""
    names = _properties(tool)
    path = next(f for f in PATH_FIELDS if f in names)
    content = next(f for f in CONTENT_FIELDS if f in names)
    return {path: SENTINEL_FILE, content: SENTINEL_TEXT}


def _properties(tool: Tool) -> dict[str, Any]:
    properties = tool.schema.get("properties")
    return properties if isinstance(properties, dict) else {}


def _value_for(name: str, schema: dict[str, Any]) -> Any:
    """A plausible value for a required argument that is not the command itself."""
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return schema.get("minimum", 60_000 if "timeout" in name else 1)
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return "Write the sentinel file" if "desc" in name else "."


def arguments_for(tool: Tool, command: str = COMMAND) -> dict[str, Any]:
    """Arguments in ``tool``'s own schema that run ``command`` in the working directory."""
    if tool.kind == "local_shell":
        return {"command": ["bash", "-lc", command]}
    properties = _properties(tool)
    field_name = next((f for f in COMMAND_FIELDS if f in properties), "command")
    spec = properties.get(field_name, {"type": "string"})
    arguments: dict[str, Any] = {
        field_name: ["bash", "-lc", command] if spec.get("type") == "array" else command
    }
    for name in tool.schema.get("required", []):
        if name not in arguments:
            arguments[name] = _value_for(name, properties.get(name, {}))
    return arguments


def default_script(turn: Turn) -> Reply:
    """One shell tool call, then the final text; plain text when no tool is offered."""
    if turn.has_tool_result:
        return Reply("final", FINAL_TEXT)
    shell = pick_shell_tool(turn.tools)
    if shell is not None:
        return Reply("tool_call", call=ToolCall(shell, arguments_for(shell)))
    writer = pick_write_tool(turn.tools)
    if writer is not None:
        return Reply("tool_call", call=ToolCall(writer, write_arguments(writer)))
    return Reply("side", FINAL_TEXT if turn.tools else SIDE_TEXT)


def estimate_tokens(data: Any) -> int:
    """About four characters a token, at least one."""
    return max(1, len(json.dumps(data)) // 4)
