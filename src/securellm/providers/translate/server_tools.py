"""Anthropic server tools toward upstreams that have none.

A tool whose ``type`` is absent or ``custom`` is a client tool (a function the client
runs). Every other type (``web_search_20250305``, ``web_fetch_*``, ``code_execution_*``,
``bash_*``, ``text_editor_*``, ``computer_*``, and any later one) is run by Anthropic's
servers, so an OpenAI-dialect upstream cannot honour it. ``[gateway] server_tools``
says what happens then: ``drop`` removes them (the response names them in
``x-securellm-dropped-tools``) and ``refuse`` answers 400 naming the first one.
"""

from __future__ import annotations

from typing import Any, Literal

from securellm.core.errors import InvalidRequest

JSON = dict[str, Any]
ServerTools = Literal["drop", "refuse"]
DROPPED_HEADER = "x-securellm-dropped-tools"
CLIENT_TYPES = (None, "custom")


def is_server_tool(tool: Any) -> bool:
    return isinstance(tool, dict) and tool.get("type") not in CLIENT_TYPES


def without_server_tools(body: JSON, policy: ServerTools, provider: str) -> tuple[JSON, list[str]]:
    """``body`` with its server tools removed, and their types; ``refuse`` raises instead.

    A ``tool_choice`` naming a removed tool becomes ``auto`` while client tools remain
    (the model may still pick one of them) and is removed with the last tool.
    """
    tools = body.get("tools")
    if not isinstance(tools, list) or not any(is_server_tool(t) for t in tools):
        return body, []
    server = [(i, t) for i, t in enumerate(tools) if is_server_tool(t)]
    if policy == "refuse":
        index, tool = server[0]
        raise InvalidRequest(
            f"tools.{index}: server tool {tool.get('type')!r} is not supported by provider "
            f"{provider!r} (the gateway's server_tools setting is 'refuse')",
            param=f"tools.{index}",
        )
    kept = [t for t in tools if not is_server_tool(t)]
    out = {key: value for key, value in body.items() if key not in ("tools", "tool_choice")}
    if kept:
        out["tools"] = kept
        choice = _choice(body.get("tool_choice"), {str(t.get("name")) for _, t in server})
        if choice is not None:
            out["tool_choice"] = choice
    return out, [str(t.get("type")) for _, t in server]


def _choice(choice: Any, dropped_names: set[str]) -> Any:
    if not isinstance(choice, dict):
        return choice
    if choice.get("type") == "tool" and choice.get("name") in dropped_names:
        auto: JSON = {"type": "auto"}
        if "disable_parallel_tool_use" in choice:
            auto["disable_parallel_tool_use"] = choice["disable_parallel_tool_use"]
        return auto
    return choice


def dropped_headers(dropped: list[str]) -> dict[str, str]:
    """The response header naming dropped tool types (none when nothing was dropped)."""
    return {DROPPED_HEADER: ", ".join(dict.fromkeys(dropped))} if dropped else {}
