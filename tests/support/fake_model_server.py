"""A model server process for offload to spawn: the OpenAI wire-format fake on ``--port``.

Used as ``[offload] llamacpp_command`` where a test needs offload's whole load → proxy →
unload path without llama.cpp: ``[python, this file, "--model", "{model}", "--port",
"{port}"]``. It answers every model as ``echo`` does (see :mod:`support.fake_openai`), and a
body the fake cannot read with 422 and an OpenAI error, as llama.cpp's servers validate.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support.fake_openai import FakeOpenAI


async def _unreadable(_request: Request, exc: Exception) -> Response:
    error = {"message": f"invalid request: {exc!r}", "type": "invalid_request_error",
             "param": None, "code": None}  # fmt: skip
    return Response(orjson.dumps({"error": error}), 422, media_type="application/json")


def app() -> Starlette:
    served = FakeOpenAI().app()
    for kind in (KeyError, TypeError, AttributeError, ValueError):
        served.add_exception_handler(kind, _unreadable)
    return served


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    args, _ = parser.parse_known_args()
    uvicorn.run(app(), host="127.0.0.1", port=args.port, log_level="warning")


def command() -> tuple[str, ...]:
    """The ``llamacpp_command`` that starts this server."""
    return ("{python}", str(Path(__file__).resolve()), "--model", "{model}", "--port", "{port}")


if __name__ == "__main__":
    main()
