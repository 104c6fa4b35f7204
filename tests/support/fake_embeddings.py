"""An OpenAI ``/v1/embeddings`` upstream for plumbing tests (not a search-quality model).

The vector of a text is a hashed bag of its words after a small table of synonyms maps
each word to a concept, so a paraphrase written with those synonyms lands near its note
while sharing no word with it: enough to see hybrid search answer where keywords cannot.
``fail`` makes it answer HTTP 503, as an upstream that is down behind the gateway does.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DIM = 64
CONCEPTS = {
    "automobile": "car",
    "vehicle": "car",
    "repaired": "fix",
    "mend": "fix",
    "fixed": "fix",
    "storage": "disk",
    "full": "space",
    "capacity": "space",
}


def embed(text: str) -> list[float]:
    vector = [0.0] * DIM
    for word in re.findall(r"\w+", text.lower()):
        concept = CONCEPTS.get(word, word)
        slot = int.from_bytes(hashlib.sha256(concept.encode()).digest()[:4], "big") % DIM
        vector[slot] += 1.0
    return vector


@dataclass
class FakeEmbeddings:
    inputs: list[str] = field(default_factory=list)
    fail: bool = False

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            ]
        )

    async def models(self, _request: Request) -> Response:
        data = [{"id": "embed", "object": "model", "created": 0, "owned_by": "fake"}]
        return _json({"object": "list", "data": data})

    async def embeddings(self, request: Request) -> Response:
        if self.fail:
            body = {"error": {"message": "overloaded", "type": "server_error"}}
            return _json(body, 503)
        body = orjson.loads(await request.body())
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.inputs.extend(texts)
        data = [
            {"object": "embedding", "index": i, "embedding": embed(text)}
            for i, text in enumerate(texts)
        ]
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        return _json({"object": "list", "data": data, "model": body["model"], "usage": usage})


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")
