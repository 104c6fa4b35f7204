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
        "openai project key",
        "key sk-proj-Qx7vR2mT9kLp4Wn8Zs3Yb6Hc1Jd5Fg0AeUo-iK_TxB3lN7qP2wX9vZc4 here",
        "Qx7vR2mT9kLp4Wn8Zs3Yb6Hc1Jd5Fg0AeUo-iK_TxB3lN7qP2wX9vZc4",
    ),
    (
        "deepseek key",
        "sk-3f9a1c7e5b2d4f608a9c1e3b5d7f9a2c failed",
        "3f9a1c7e5b2d4f608a9c1e3b5d7f9a2c",
    ),
    (
        "openai masked key",
        "Incorrect API key provided: sk-proj-********************wXyZ. You can find",
        "wXyZ",
    ),
    ("older masked key", "provided: sk-abc12***************************wxyz.", "wxyz"),
    ("basic credentials", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("raw authorization", "authorization: tok3n-value-99", "tok3n-value-99"),
    ("x-api-key header", "got x-api-key: local-key-123456", "local-key-123456"),
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


KNOWN = "local-upstream-key-7f3a9c2e1bQW"
KNOWN_FORMS = [
    ("whole", f"Incorrect API key provided: {KNOWN}.", KNOWN),
    ("bearer", f"got Bearer {KNOWN}", KNOWN),
    ("starred", f"key {KNOWN[:8]}{'*' * 20}{KNOWN[-4:]} refused", KNOWN[-4:]),
    ("dotted", f"key {KNOWN[:3]}...{KNOWN[-4:]} refused", KNOWN[-4:]),
    ("cut short", f"key {KNOWN[:20]}", KNOWN[:20]),
]


@pytest.mark.parametrize(("form", "text", "secret"), KNOWN_FORMS, ids=[f[0] for f in KNOWN_FORMS])
def test_known_secret_is_masked_in_every_form(form: str, text: str, secret: str) -> None:
    cleaned = redact(text, [KNOWN])
    assert secret not in cleaned
    assert MASK in cleaned


PROSE = [
    "the basic principles of token accounting",
    "Each token represents about four characters.",
    "Bearer authentication failed for this request",
    "Invalid credentials: please check the key you sent",
    "authorization: failed",
    "max_tokens: 100 is above the limit",
    "This is **important** and that f***ing bug is gone",
    "we waited...abcd came back",
]


@pytest.mark.parametrize("text", PROSE)
def test_prose_is_left_alone(text: str) -> None:
    assert redact(text, ["sk-known-secret-abcd"]) == text


def test_nested_values_are_redacted_with_known_secrets() -> None:
    value = {"error": {"message": f"bad key {KNOWN}", "code": 401}}
    assert redact_value(value, [KNOWN]) == {"error": {"message": f"bad key {MASK}", "code": 401}}
