"""Shared settings of the schemathesis runs against the gateway and offload."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from schemathesis import Case, CheckContext, Response

# Bounded: at most `max-examples` generated cases per operation and mode (positive and
# negative), plus the coverage phase's boundary cases and undeclared methods; derandomised
# so every run sends the same requests (about 1,600 for the gateway). Checks: every status
# documented, content type and body (each SSE event too) as documented, a 405 with `Allow`
# for an undeclared method, a request without a key (or a wrong one) refused where the
# document asks for one; `not_a_server_error` is replaced by `no_internal_error`, since a
# 502 for a failing upstream is a documented answer and a 500 never is. Left out:
# `negative_data_rejection` (inference bodies are passed to the upstream, which checks the
# fine detail: the gateway checks only what it relies on) and `positive_data_acceptance`
# (a valid body for an unknown model is rightly a 404).
# No per-example deadline (no timing thresholds); a request that hangs fails after
# `request-timeout` seconds and an operation that runs away after OPERATION_TIMEOUT_S.
FUZZ_CONFIG = """
request-timeout = 30

[generation]
mode = "all"
max-examples = 50
deterministic = true
database = "none"
with-security-parameters = false

[checks]
enabled = false
status_code_conformance.enabled = true
content_type_conformance.enabled = true
response_schema_conformance.enabled = true
response_headers_conformance.enabled = true
ignored_auth.enabled = true
unsupported_method.enabled = true

[phases.stateful]
enabled = false
"""
OPERATION_TIMEOUT_S = 120


class InternalError(AssertionError):
    """The service answered 500: an error nobody mapped to a status."""


def no_internal_error(_ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Never a 500; other 5xx (502, 503, 504, 507) are answers the document must list."""
    if response.status_code == 500:
        raise InternalError(f"{case.method} {case.path} answered 500: {response.text[:500]}")
    return None


def _pick(seed: object, choices: Sequence[str]) -> str | None:
    """One of ``choices`` (or None: keep the generated value), by a hash of ``seed``."""
    pick = zlib.crc32(repr(seed).encode()) % (len(choices) + 1)
    return choices[pick] if pick < len(choices) else None


def steer_path(case: Case, name: str, values: Sequence[str]) -> None:
    """Point a generated path parameter at a value that exists, most of the time."""
    params = case.path_parameters
    if params and isinstance(params.get(name), str):
        chosen = _pick(sorted(params.items()), values)
        if chosen is not None:
            params[name] = chosen


def steer_model(case: Case, models: Sequence[str]) -> None:
    """Point a generated body's valid ``model`` at a served model, most of the time.

    Random names only reach the 404 path; the served ones reach the upstream and back.
    The choice is a hash of the generated body, so runs stay reproducible; one slot in
    ``len(models) + 1`` keeps the generated name.
    """
    body = case.body
    if not isinstance(body, dict):
        return
    model = body.get("model")
    if isinstance(model, str) and model.strip():
        chosen = _pick(sorted(body.items(), key=str), models)
        if chosen is not None:
            body["model"] = chosen
