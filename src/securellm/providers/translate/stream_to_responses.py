"""OpenAI ``chat.completion.chunk`` events -> the Responses API's streaming events.

The sequence is the documented one: ``response.created``, ``response.in_progress``; per
output item ``response.output_item.added``, then for a message
``response.content_part.added``, ``response.output_text.delta``…,
``response.output_text.done``, ``response.content_part.done``; for a function call
``response.function_call_arguments.delta``… and ``.done``; for a reasoning item the same
with ``reasoning_text``; then ``response.output_item.done``; finally
``response.completed`` (``response.incomplete`` when the output limit cut it) or, on an
error, ``response.failed``. Every event carries ``type`` and ``sequence_number`` from 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from securellm.providers.base import Usage
from securellm.providers.translate.common import (
    JSON,
    Unreadable,
    error_message,
    index_of,
    obj,
    objects,
    opt_text,
    responses_sse,
    usage_from_openai,
)
from securellm.providers.translate.responses_reply import (
    call_item,
    custom_input,
    finish,
    message_item,
    new_item_id,
    reasoning_item,
    response_shell,
    responses_usage,
    text_part,
)


@dataclass
class _Item:
    """The output item being streamed: ``kind`` is text, reasoning or tool:<index>."""

    kind: str
    index: int  # output_index
    item_id: str
    text: str = ""
    call_id: str = ""
    name: str = ""
    custom: bool = False


class ChatToResponsesStream:
    """Feed each chat chunk (parsed); get the Responses events to send.

    ``response`` is the ``Response`` as it stands (complete once ``complete``); ``failure``
    says why the stream ended with ``response.failed``. ``fail`` is also the stream's
    closer for the edge (a stream cut short still ends with a numbered event).
    """

    def __init__(
        self,
        body: JSON,
        model: str,
        response_id: str,
        custom_tools: frozenset[str] = frozenset(),
    ) -> None:
        self.response = response_shell(body, model, response_id, "in_progress")
        self.usage = Usage()
        self.complete = False
        self.failure: str | None = None
        self._custom_tools = custom_tools
        self._sequence = 0
        self._started = False
        self._open: _Item | None = None
        self._tools: dict[int, _Item] = {}
        self._finish_reason: str | None = None
        self._reasoning_tokens = 0

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload: JSON = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return responses_sse(payload)

    def _snapshot(self) -> JSON:
        return {**self.response, "output": list(self.response["output"])}

    def start(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        return [
            self._event("response.created", response=self._snapshot()),
            self._event("response.in_progress", response=self._snapshot()),
        ]

    def feed(self, chunk: Any) -> list[bytes]:
        """The events for one upstream chunk (any JSON value: a malformed one fails)."""
        if self.complete or self.failed:
            return []
        out = self.start()
        try:
            chunk = obj(chunk, "the chunk")
            if chunk.get("error") is not None:
                return out + self.fail(error_message(chunk["error"]))
            if chunk.get("usage"):
                usage = obj(chunk["usage"], "usage")
                self.usage = usage_from_openai(usage)
                details = usage.get("completion_tokens_details")
                if isinstance(details, dict):
                    self._reasoning_tokens = index_of(details.get("reasoning_tokens"), "usage")
            for choice in objects(chunk.get("choices"), "choices"):
                self._choice(choice, out)
        except Unreadable as exc:
            out.extend(self.fail(exc.message))
        return out

    def _choice(self, choice: JSON, out: list[bytes]) -> None:
        delta = obj(choice.get("delta"), "choices[].delta")
        reasoning = opt_text(delta.get("reasoning_content"), "delta.reasoning_content")
        if reasoning:
            out.extend(self._text("reasoning", reasoning))
        content = opt_text(delta.get("content"), "delta.content")
        if content:
            out.extend(self._text("text", content))
        for call in objects(delta.get("tool_calls"), "delta.tool_calls"):
            out.extend(self._tool(call))
        if choice.get("finish_reason"):
            self._finish_reason = str(choice["finish_reason"])

    def _text(self, kind: str, text: str) -> list[bytes]:
        out: list[bytes] = []
        item = self._open
        if item is None or item.kind != kind:
            out.extend(self._close())
            item = _Item(kind, 0, new_item_id("rs_" if kind == "reasoning" else "msg_"))
            out.extend(self._add_item(item))
            part: JSON = text_part("")
            if kind == "reasoning":
                part = {"type": "reasoning_text", "text": ""}
            ids = {"item_id": item.item_id, "output_index": item.index, "content_index": 0}
            out.append(self._event("response.content_part.added", part=part, **ids))
        item.text += text
        name = f"response.{'reasoning' if kind == 'reasoning' else 'output'}_text.delta"
        extra: JSON = {} if kind == "reasoning" else {"logprobs": []}
        out.append(
            self._event(
                name,
                item_id=item.item_id,
                output_index=item.index,
                content_index=0,
                delta=text,
                **extra,
            )
        )
        return out

    def _tool(self, call: JSON) -> list[bytes]:
        position = index_of(call.get("index"), "tool_calls[].index")
        function = obj(call.get("function"), "tool_calls[].function")
        arguments = opt_text(function.get("arguments"), "function.arguments") or ""
        out: list[bytes] = []
        item = self._tools.get(position)
        if item is None:
            out.extend(self._close())
            name = opt_text(function.get("name"), "function.name") or ""
            custom = name in self._custom_tools
            item = _Item(f"tool:{position}", 0, new_item_id("ctc_" if custom else "fc_"))
            item.call_id = opt_text(call.get("id"), "tool_calls[].id") or new_item_id("call_")
            item.name, item.custom = name, custom
            self._tools[position] = item
            out.extend(self._add_item(item))
        item.text += arguments
        if arguments and not item.custom and self._open is item:
            out.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item.item_id,
                    output_index=item.index,
                    delta=arguments,
                )
            )
        return out

    def _add_item(self, item: _Item) -> list[bytes]:
        item.index = len(self.response["output"])
        self.response["output"].append(self._in_progress(item))
        self._open = item
        added = self._in_progress(item)
        return [self._event("response.output_item.added", output_index=item.index, item=added)]

    def _in_progress(self, item: _Item) -> JSON:
        if item.kind == "text":
            return message_item(item.item_id, [], "in_progress")
        if item.kind == "reasoning":
            return reasoning_item(item.item_id, None)
        done = call_item(item.item_id, item.call_id, item.name, "", item.custom)
        return {**done, "status": "in_progress"}

    def _close(self) -> list[bytes]:
        item = self._open
        if item is None:
            return []
        self._open = None
        out: list[bytes] = []
        if item.kind in ("text", "reasoning"):
            out.extend(self._close_text(item))
            done = (
                message_item(item.item_id, [text_part(item.text)], "completed")
                if item.kind == "text"
                else reasoning_item(item.item_id, item.text)
            )
        else:
            out.extend(self._close_call(item))
            done = call_item(item.item_id, item.call_id, item.name, item.text or "{}", item.custom)
        self.response["output"][item.index] = done
        out.append(self._event("response.output_item.done", output_index=item.index, item=done))
        return out

    def _close_text(self, item: _Item) -> list[bytes]:
        ids: JSON = {"item_id": item.item_id, "output_index": item.index, "content_index": 0}
        if item.kind == "reasoning":
            part: JSON = {"type": "reasoning_text", "text": item.text}
            done = self._event("response.reasoning_text.done", text=item.text, **ids)
        else:
            part = text_part(item.text)
            done = self._event("response.output_text.done", text=item.text, logprobs=[], **ids)
        return [done, self._event("response.content_part.done", part=part, **ids)]

    def _close_call(self, item: _Item) -> list[bytes]:
        ids: JSON = {"item_id": item.item_id, "output_index": item.index}
        if item.custom:
            raw = custom_input(item.text or "{}")
            return [
                self._event("response.custom_tool_call_input.delta", delta=raw, **ids),
                self._event("response.custom_tool_call_input.done", input=raw, **ids),
            ]
        arguments = item.text or "{}"
        return [self._event("response.function_call_arguments.done", arguments=arguments, **ids)]

    def finish(self) -> list[bytes]:
        """The upstream is done: close the last item and the response."""
        if self.complete or self.failed:
            return []
        out = self.start()
        out.extend(self._close())
        finish(self.response, self._finish_reason)
        self.response["usage"] = responses_usage(self.usage, self._reasoning_tokens)
        kind = "response.incomplete" if self.response["status"] == "incomplete" else None
        out.append(self._event(kind or "response.completed", response=self._snapshot()))
        self.complete = True
        return out

    def fail(self, message: str) -> list[bytes]:
        """End with ``response.failed`` (the response's ``error`` says why)."""
        if self.failed or self.complete:
            return []
        self.failure = message
        out = self.start()
        self.response["status"] = "failed"
        self.response["error"] = {"code": "server_error", "message": message}
        out.append(self._event("response.failed", response=self._snapshot()))
        return out

    def closer(self, message: str) -> bytes:
        """The edge's closing event for a stream cut short (see ``UpstreamResponse.closer``)."""
        return b"".join(self.fail(message))
