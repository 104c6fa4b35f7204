"""Remote OpenAI-compatible servers (vLLM, TGI): watched for health and their model list."""

from __future__ import annotations

from typing import Any

import aiohttp


async def probe_openai(session: aiohttp.ClientSession, name: str, base_url: str) -> dict[str, Any]:
    """``GET {base_url}/models``: healthy when it answers 200 with an OpenAI model list."""
    status: dict[str, Any] = {"name": name, "kind": "remote", "base_url": base_url}
    try:
        timeout = aiohttp.ClientTimeout(total=3)
        async with session.get(f"{base_url}/models", timeout=timeout) as response:
            if response.status != 200:
                return {
                    **status,
                    "healthy": False,
                    "models": [],
                    "error": f"HTTP {response.status}",
                }
            data = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return {**status, "healthy": False, "models": [], "error": type(exc).__name__}
    listed = data.get("data") if isinstance(data, dict) else None
    if not isinstance(listed, list):
        return {**status, "healthy": False, "models": [], "error": "not an OpenAI model list"}
    models = [m.get("id") for m in listed if isinstance(m, dict)]
    return {**status, "healthy": True, "models": models, "error": None}
