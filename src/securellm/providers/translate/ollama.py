"""OpenAI requests <-> Ollama's native API (``/api/chat``, ``/api/generate``, ``/api/embed``)."""

from __future__ import annotations

import base64
import struct
from typing import Any

from securellm.core.errors import InvalidRequest
from securellm.providers.base import Usage
from securellm.providers.translate.common import (
    JSON,
    OPENAI_DONE,
    Unreadable,
    count,
    dumps_arguments,
    error_message,
    items,
    loads_arguments,
    new_id,
    now,
    obj,
    objects,
    openai_error_end,
    openai_sse,
    openai_usage,
    opt_text,
    parse_data_url,
    text_of,
)

# OpenAI sampling field -> Ollama ``options`` field.
OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "seed": "seed",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "max_tokens": "num_predict",
    "max_completion_tokens": "num_predict",
}
PASS_THROUGH = ("keep_alive", "think")


def usage_of(data: JSON) -> Usage:
    return Usage(
        prompt_tokens=count(data.get("prompt_eval_count")),
        completion_tokens=count(data.get("eval_count")),
    )


def _common(body: JSON, model: str) -> JSON:
    out: JSON = {"model": model, "stream": bool(body.get("stream"))}
    options = {target: body[name] for name, target in OPTIONS.items() if body.get(name) is not None}
    stop = body.get("stop")
    if stop:
        options["stop"] = [stop] if isinstance(stop, str) else list(stop)
    if options:
        out["options"] = options
    for name in PASS_THROUGH:
        if body.get(name) is not None:
            out[name] = body[name]
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        out["format"] = "json"
    elif isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        out["format"] = (fmt.get("json_schema") or {}).get("schema") or "json"
    return out


def chat_request(body: JSON, model: str) -> JSON:
    """An OpenAI chat body as an ``/api/chat`` body."""
    out = _common(body, model)
    names: dict[str, str] = {}
    out["messages"] = [_message(m, i, names) for i, m in enumerate(body["messages"])]
    if body.get("tools"):
        out["tools"] = body["tools"]  # Ollama takes OpenAI's tool format as is
    return out


def _message(message: JSON, index: int, names: dict[str, str]) -> JSON:
    role = "system" if message["role"] == "developer" else message["role"]
    content = message.get("content")
    out: JSON = {"role": role, "content": text_of(content)}
    images = [_image(part, index) for part in content or [] if _is_image(part)]
    if images:
        out["images"] = images
    calls = []
    for position, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        names[str(call.get("id"))] = str(function.get("name"))
        where = f"messages[{index}].tool_calls[{position}].function.arguments"
        arguments = loads_arguments(function.get("arguments"), where)
        calls.append({"function": {"name": function.get("name"), "arguments": arguments}})
    if calls:
        out["tool_calls"] = calls
    if role == "tool" and str(message.get("tool_call_id")) in names:
        out["tool_name"] = names[str(message.get("tool_call_id"))]
    return out


def _is_image(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "image_url"


def _image(part: JSON, index: int) -> str:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    data = parse_data_url(str(url))
    if data is None:
        raise InvalidRequest(f"messages[{index}]: Ollama takes images as base64 data URLs only")
    return data[1]


def chat_completion(data: JSON, model: str) -> JSON:
    """An ``/api/chat`` reply as an OpenAI chat completion."""
    message = obj(data.get("message"), "message")
    calls = _tool_calls(message.get("tool_calls"))
    content = opt_text(message.get("content"), "message.content")
    reply: JSON = {"role": "assistant", "content": content or ("" if not calls else None)}
    if calls:
        reply["tool_calls"] = calls
    thinking = opt_text(message.get("thinking"), "message.thinking")
    if thinking:
        reply["reasoning_content"] = thinking
    finish = "tool_calls" if calls else _finish(data)
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [{"index": 0, "message": reply, "logprobs": None, "finish_reason": finish}],
        "usage": openai_usage(usage_of(data)),
    }


def _tool_calls(raw: Any, start: int = 0) -> list[JSON]:
    calls = []
    for position, call in enumerate(objects(raw, "message.tool_calls"), start):
        function = obj(call.get("function"), "tool_calls[].function")
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise Unreadable("tool_calls[].function.arguments", "an object")
        calls.append(
            {
                "index": position,
                "id": opt_text(call.get("id"), "tool_calls[].id") or new_id("call_"),
                "type": "function",
                "function": {
                    "name": opt_text(function.get("name"), "tool_calls[].function.name"),
                    "arguments": dumps_arguments(arguments),
                },
            }
        )
    return calls


def _finish(data: JSON) -> str:
    return "length" if data.get("done_reason") == "length" else "stop"


def generate_request(body: JSON, model: str) -> JSON:
    """An OpenAI text-completion body as an ``/api/generate`` body (raw prompt)."""
    prompt = body["prompt"]
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise InvalidRequest("Ollama completes one string prompt per request", param="prompt")
        prompt = prompt[0]
    out = _common(body, model)
    out.update({"prompt": prompt, "raw": True})
    if body.get("suffix"):
        out["suffix"] = body["suffix"]
    return out


def text_completion(data: JSON, model: str) -> JSON:
    choice = {
        "index": 0,
        "text": opt_text(data.get("response"), "response") or "",
        "logprobs": None,
        "finish_reason": _finish(data),
    }
    return {
        "id": new_id("cmpl-"),
        "object": "text_completion",
        "created": now(),
        "model": model,
        "choices": [choice],
        "usage": openai_usage(usage_of(data)),
    }


class OllamaToOpenAIStream:
    """Feed each NDJSON line of ``/api/chat`` (or ``/api/generate``); get OpenAI events.

    An ``error`` line, or a line with a field of the wrong type, ends the stream with
    OpenAI's error object and ``[DONE]`` (``failure`` says why); nothing follows it.
    """

    def __init__(self, model: str, *, include_usage: bool, chat: bool = True) -> None:
        self.model = model
        self.include_usage = include_usage
        self.chat = chat
        self.usage = Usage()
        self.complete = False
        self.failure: str | None = None
        self._id = new_id("chatcmpl-" if chat else "cmpl-")
        self._created = now()
        self._calls = 0
        self._started = False

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def feed(self, line: Any) -> list[bytes]:
        """The chunks for one NDJSON line (any JSON value: a malformed one fails)."""
        if self.complete or self.failed:
            return []
        try:
            return self._feed(obj(line, "the line"))
        except Unreadable as exc:
            return self.fail(exc.message)

    def fail(self, message: str) -> list[bytes]:
        if self.failed or self.complete:
            return []
        self.failure = message
        return openai_error_end(message)

    def _feed(self, data: JSON) -> list[bytes]:
        if data.get("error"):
            return self.fail(error_message(data["error"]))
        out = self._content(data)
        if data.get("done"):
            self.complete = True
            self.usage = usage_of(data)
            finish = "tool_calls" if self._calls else _finish(data)
            out.append(self._chunk({}, finish))
            if self.include_usage:
                out.append(openai_sse({**self._envelope([]), "usage": openai_usage(self.usage)}))
            out.append(OPENAI_DONE)
        return out

    def _content(self, data: JSON) -> list[bytes]:
        if not self.chat:
            text = opt_text(data.get("response"), "response")
            return [self._chunk({"text": text})] if text else []
        message = obj(data.get("message"), "message")
        thinking = opt_text(message.get("thinking"), "message.thinking")
        content = opt_text(message.get("content"), "message.content")
        calls = _tool_calls(message.get("tool_calls"), self._calls)
        delta: JSON = {}
        if not self._started:
            self._started = True
            delta["role"] = "assistant"
        if thinking:
            delta["reasoning_content"] = thinking
        if content or "role" in delta:
            delta["content"] = content or ""
        if calls:
            self._calls += len(calls)
            delta["tool_calls"] = calls
        return [self._chunk(delta)] if delta else []

    def _chunk(self, delta: JSON, finish: str | None = None) -> bytes:
        if self.chat:
            choice: JSON = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        else:
            text = delta.get("text", "")
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
        return openai_sse(self._envelope([choice]))

    def _envelope(self, choices: list[JSON]) -> JSON:
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        return {
            "id": self._id,
            "object": kind,
            "created": self._created,
            "model": self.model,
            "choices": choices,
        }


def embed_request(body: JSON, model: str) -> JSON:
    out: JSON = {"model": model, "input": body["input"]}
    if body.get("dimensions") is not None:
        out["dimensions"] = body["dimensions"]
    if body.get("keep_alive") is not None:
        out["keep_alive"] = body["keep_alive"]
    return out


def embeddings(data: JSON, model: str, encoding: Any) -> JSON:
    """An ``/api/embed`` reply as OpenAI's list; base64 when asked (the openai SDK's default)."""
    vectors = [_vector(v) for v in items(data.get("embeddings"), "embeddings")]
    listed = [
        {"object": "embedding", "index": i, "embedding": _encode(vector, encoding)}
        for i, vector in enumerate(vectors)
    ]
    prompt = count(data.get("prompt_eval_count"))
    return {
        "object": "list",
        "data": listed,
        "model": model,
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    }


def _vector(value: Any) -> list[float]:
    numbers = items(value, "embeddings[]")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in numbers):
        raise Unreadable("embeddings[]", "a list of numbers")
    return numbers


def _encode(vector: list[float], encoding: Any) -> list[float] | str:
    if encoding != "base64":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
