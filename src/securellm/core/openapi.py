"""OpenAPI 3.1 documents built from pydantic models and a table of operations.

Each HTTP service declares its operations once (:class:`Operation`: method, path, request
model, the answers it really gives); :func:`build_document` turns the table into the
document served at ``GET /openapi.json``, with every model's JSON schema (pydantic's
``models_json_schema``) under ``components/schemas``. :func:`route_operations` lists what
a Starlette app really routes, so a test can keep the table and the app in step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.routing import BaseRoute, Mount, Route

OPENAPI_VERSION = "3.1.0"
REF_TEMPLATE = "#/components/schemas/{model}"
Schema = dict[str, Any]
Location = Literal["query", "path", "header"]
Refs = dict[tuple[Any, JsonSchemaMode], Schema]  # (model, mode) -> its $ref


@dataclass(frozen=True)
class Param:
    """A query, path or header parameter (path parameters are always required)."""

    name: str
    where: Location
    description: str
    schema: Schema = field(default_factory=lambda: {"type": "string"})
    required: bool = False

    def to_json(self) -> Schema:
        return {
            "name": self.name,
            "in": self.where,
            "description": self.description,
            "required": self.required or self.where == "path",
            "schema": self.schema,
        }


@dataclass(frozen=True)
class Reply:
    """One answer of an operation: its status, its body model (JSON) or other media types."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    media: dict[str, Schema] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # name -> description


@dataclass(frozen=True)
class Operation:
    """One method on one path, as the service really serves it."""

    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    replies: tuple[Reply, ...]
    body: type[BaseModel] | None = None
    body_media: dict[str, Schema] = field(default_factory=dict)  # a body that is not a model
    params: tuple[Param, ...] = ()
    security: tuple[str, ...] = ()  # names of security schemes; empty: no key needed
    security_optional: bool = False  # the schemes apply only when the service is so configured
    description: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.method.upper(), self.path


class _Components:
    """Collects the models an operation table uses and renders their schemas once."""

    def __init__(self) -> None:
        self._wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}

    def want(self, model: type[BaseModel], mode: JsonSchemaMode) -> None:
        self._wanted[(model, mode)] = None

    def render(self) -> tuple[Refs, Schema]:
        refs, defs = models_json_schema(list(self._wanted), ref_template=REF_TEMPLATE)
        found: Refs = dict(refs)
        return found, dict(defs.get("$defs", {}))


def _json_content(schema: Schema, extra: dict[str, Schema]) -> Schema:
    return {"application/json": {"schema": schema}, **{k: {"schema": v} for k, v in extra.items()}}


def _reply_json(reply: Reply, refs: Refs) -> Schema:
    out: Schema = {"description": reply.description}
    if reply.model is not None:
        out["content"] = _json_content(refs[(reply.model, "serialization")], reply.media)
    elif reply.media:
        out["content"] = {k: {"schema": v} for k, v in reply.media.items()}
    if reply.headers:
        out["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in reply.headers.items()
        }
    return out


def _operation_json(op: Operation, refs: Refs) -> Schema:
    out: Schema = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "responses": {str(r.status): _reply_json(r, refs) for r in op.replies},
        "security": [{name: []} for name in op.security],
    }
    if op.security_optional:
        out["security"].insert(0, {})
    if op.description:
        out["description"] = op.description
    if op.params:
        out["parameters"] = [p.to_json() for p in op.params]
    if op.body is not None:
        content = _json_content(refs[(op.body, "validation")], op.body_media)
        out["requestBody"] = {"required": True, "content": content}
    elif op.body_media:
        content = {k: {"schema": v} for k, v in op.body_media.items()}
        out["requestBody"] = {"required": True, "content": content}
    return out


def build_document(
    *,
    title: str,
    version: str,
    description: str,
    operations: Sequence[Operation],
    security_schemes: dict[str, Schema] | None = None,
) -> Schema:
    """The OpenAPI 3.1 document of ``operations`` (their models under ``components``)."""
    components = _Components()
    for op in operations:
        if op.body is not None:
            components.want(op.body, "validation")
        for reply in op.replies:
            if reply.model is not None:
                components.want(reply.model, "serialization")
    refs, schemas = components.render()
    paths: dict[str, Schema] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation_json(op, refs)
    document: Schema = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if security_schemes:
        document["components"]["securitySchemes"] = security_schemes
    return document


_CONVERTOR = re.compile(r"\{([^}:]+):[^}]+\}")


def route_operations(routes: Iterable[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """Every (METHOD, path) a Starlette app routes; HEAD (added for each GET) left out."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Mount):
            found |= route_operations(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = _CONVERTOR.sub(r"{\1}", prefix + route.path)
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, path))
    return found


def documented_operations(document: Schema) -> set[tuple[str, str]]:
    """Every (METHOD, path) an OpenAPI document describes."""
    return {
        (method.upper(), path)
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    }
