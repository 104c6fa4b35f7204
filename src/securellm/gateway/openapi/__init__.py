"""``GET /openapi.json``: the gateway's OpenAPI 3.1 document, built from its models.

Served without a key, like ``/health``: it describes the API's shapes and holds no
secret, no provider or model name, and client generators fetch it anonymously.
"""

from __future__ import annotations

from functools import cache

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from securellm import __version__
from securellm.core.openapi import Schema, build_document
from securellm.gateway.openapi.operations import operations

SECURITY_SCHEMES: Schema = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "a virtual key or the master key (OpenAI SDKs send it this way)",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "the same keys, as Anthropic SDKs send them",
    },
}
DESCRIPTION = (
    "OpenAI- and Anthropic-compatible gateway. Errors use OpenAI's error JSON, and "
    "Anthropic's on /v1/messages. Every operation can answer 431 when the request "
    "headers pass the configured limits; a method a path does not serve is a 405 with "
    "`Allow`."
)


@cache
def document() -> bytes:
    """The document as JSON bytes (built once per process)."""
    spec = build_document(
        title="securellm gateway",
        version=__version__,
        description=DESCRIPTION,
        operations=operations(),
        security_schemes=SECURITY_SCHEMES,
    )
    return orjson.dumps(spec)


async def openapi_json(_request: Request) -> Response:
    return Response(document(), media_type="application/json")


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
