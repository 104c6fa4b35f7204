"""Secrets never reach the audit trail: keys, tokens, passwords and private keys are masked."""

from __future__ import annotations

import pytest

from securellm.core.redact import MASK, redact, redact_value

SECRETS = [
    (
        "openai key",
        "use sk-proj-AbCdEf0123456789AbCdEf0123 now",
        "sk-proj-AbCdEf0123456789AbCdEf0123",
    ),
    ("gateway key", "key sk-sl-Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5", "sk-sl-Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5"),
    ("anthropic key", "sk-ant-api03-abcdefghijklmnop_qrstu", "sk-ant-api03-abcdefghijklmnop_qrstu"),
    ("bearer token", "Authorization: Bearer abc.def-ghi_jkl012", "abc.def-ghi_jkl012"),
    ("aws key", "AKIAIOSFODNN7EXAMPLE is mine", "AKIAIOSFODNN7EXAMPLE"),
    ("github token", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "a1B2c3D4e5F6g7H8i9J0"),
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", "dozjgN"),
    ("password assignment", "db password=hunter2secret please", "hunter2secret"),
    ("json password", '{"password": "s3cr3t-value"}', "s3cr3t-value"),
    ("api_key env", "OPENAI_API_KEY=abc123def456", "abc123def456"),
    ("url credentials", "postgresql://app:pa55word@db.internal/x", "pa55word"),
    (
        "private key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
        "MIIEow",
    ),
]


@pytest.mark.parametrize(("kind", "text", "secret"), SECRETS, ids=[s[0] for s in SECRETS])
def test_secret_is_masked(kind: str, text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert MASK in cleaned


def test_ordinary_text_is_left_alone() -> None:
    text = "What is the capital of France? Tell me about tokens and passwords in general."
    assert redact(text) == text


def test_nested_values_keep_their_structure() -> None:
    value = {"messages": [{"role": "user", "content": "my key is sk-abcdefghijklmnopqrstuv"}]}
    assert redact_value(value) == {"messages": [{"role": "user", "content": f"my key is {MASK}"}]}
