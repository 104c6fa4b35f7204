"""What a coding-agent session must leave in the audit trail: no 4xx, one record per request.

Precisely: every request record (``event_type`` ``request.*``, admin calls aside) has a
status below 400; the completion records (``chat``, ``messages``, ``responses``) are as many
as the completions the scripted upstream served (retries are off in these tests, so one
record is one upstream request); ``count_tokens`` records are as many as the upstream saw
for an Anthropic provider, and the upstream saw none for any other kind (the gateway counts
those itself, and audits them); no completion went to a path the upstream does not serve.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from support.agent_gateway import AgentGateway

COMPLETIONS = ("chat", "messages", "responses")


def request_records(gateway: AgentGateway) -> list[dict[str, Any]]:
    return [
        r
        for r in gateway.audit()
        if str(r.get("event_type", "")).startswith("request.")
        and not str(r.get("endpoint", "")).startswith("admin")
    ]


def assert_session_clean(gateway: AgentGateway, kind: str) -> None:
    """No 4xx (nor 5xx) for any request, and the trail matches what the upstream saw."""
    records = request_records(gateway)
    failed = [(r["endpoint"], r["status"], r["error"]) for r in records if r["status"] >= 400]
    assert failed == []
    audited = Counter(r["endpoint"] for r in records)
    seen = Counter(r.dialect for r in gateway.upstream.requests)
    assert sum(audited[e] for e in COMPLETIONS) == len(gateway.upstream.generations) > 0
    expected_counts = audited["count_tokens"] if kind == "anthropic" else 0
    assert seen["count_tokens"] == expected_counts
    # The gateway's own probes (GET /props of a llama.cpp-like server) are no client request.
    assert [
        r.path for r in gateway.upstream.requests if r.dialect == "unknown" and r.method == "POST"
    ] == []
