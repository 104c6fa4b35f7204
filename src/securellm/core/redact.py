"""Secrets out of anything a client, a log line or the audit trail may see.

One redaction for every boundary: upstream errors, MCP tool output, logs, audit records.
Two kinds of secret are masked:

- values known to be secret (a configured upstream key, the master key), passed in
  ``secrets``: the exact value, the masked forms servers print of it (OpenAI's
  ``sk-proj-****...abcd``: a prefix, asterisks and the last four characters; proxies'
  ``sk-...abcd``), and a quote of it cut short (its first 16 characters onwards);
- anything shaped like a credential: provider key formats (``sk-...``, AWS, GitHub,
  Slack, Google, JWTs), a credential after ``Bearer``/``Basic``/``token`` or in an
  ``Authorization`` header, ``password=...``-style assignments, URL passwords and
  private-key blocks.

Ordinary prose is left alone: a word after "token" or "basic" is masked only when it
looks generated (a digit, inner capitals or symbols), as credentials do and words do not.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

MASK = "[REDACTED]"
PREFIX_CHARS = 16  # a quote of a known secret this long (cut short or not) is masked

_TOKEN = r"[A-Za-z0-9._~+/=-]"  # noqa: S105 (a character class, not a password)
_SYMBOLS = frozenset("_+/=.~")


def looks_generated(value: str) -> bool:
    """True for strings shaped like credentials rather than words of prose."""
    if len(value) < 8:
        return False
    if any(c.isdigit() for c in value) or any(c in _SYMBOLS for c in value):
        return True
    inner_capitals = sum(c.isupper() for c in value[1:])
    return inner_capitals >= 2 and any(c.islower() for c in value)


def _scheme_credential(match: re.Match[str]) -> str:
    """``Bearer <credential>``, ``Authorization: <credential>``: masked when it looks generated."""
    head, credential = match.group(1), match.group(2)
    return head + MASK if looks_generated(credential) else match.group(0)


def _assignment(match: re.Match[str]) -> str:
    name, space, sep, gap, quote, value = match.groups()
    if sep == ":" and not quote and not looks_generated(value):
        return match.group(0)  # "credentials: invalid" is prose; "api_key=abc" is not
    return f"{name}{space}{sep}{gap}{quote}{MASK}"


_Replacement = str | Callable[[re.Match[str]], str]
# (hints, pattern, replacement): a pattern runs only when one of its hints, lower-cased
# literal text every match contains, is in the text (a substring test costs far less
# than a regex scan, and most text holds no secret at all).
_PATTERNS: list[tuple[tuple[str, ...], re.Pattern[str], _Replacement]] = [
    (
        ("private key-----",),
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
        MASK,
    ),
    # Masked keys as servers print them: "sk-proj-****abcd", "sk-abc1***...***wxyz".
    (("***",), re.compile(r"\b[a-z]{2,5}[-_][A-Za-z0-9_-]*\*{3,}[A-Za-z0-9_-]*"), MASK),
    (
        ("authorization",),
        re.compile(
            rf"(?i)\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:[a-z]+\s+)?)({_TOKEN}{{8,}})"
        ),
        _scheme_credential,
    ),
    (
        ("bearer", "basic", "token"),
        re.compile(rf"(?i)\b((?:bearer|basic|token)\s+)({_TOKEN}{{8,}})"),
        _scheme_credential,
    ),
    (("sk-",), re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), MASK),
    (("akia", "asia"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{20,}"),
        MASK,
    ),
    (("xox",), re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), MASK),
    (("aiza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), MASK),
    (("eyj",), re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MASK),
    (("://",), re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+):[^@\s/]+@"), r"\1:" + MASK + "@"),
    (
        ("pass", "pwd", "secret", "key", "token", "credential"),
        re.compile(
            r"(?i)\b((?:[a-z0-9_]*[_-])?(?:password|passwd|pwd|passphrase|secret|api[_-]?key"
            r"|access[_-]?key|auth[_-]?token|token|credentials?))"
            r"(\"?\s*)([:=])(\s*)([\"']?)([^\s\"',;&]{3,})"
        ),
        _assignment,
    ),
]


@functools.lru_cache(maxsize=64)
def _known_secret_patterns(secret: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """``(hint, pattern)`` for the masked and cut-short forms of one known secret, compiled
    once: a pattern runs only when its hint, text each of its matches contains, is there."""
    patterns = []
    if len(secret) >= 8:
        last = secret[-4:]
        form = rf"({_TOKEN}*?)(\*{{3,}}|\.{{3}}|\u2026){re.escape(last)}(?![A-Za-z0-9])"
        patterns.append((last, re.compile(form)))
    if len(secret) > PREFIX_CHARS:
        prefix = secret[:PREFIX_CHARS]
        patterns.append((prefix, re.compile(re.escape(prefix) + f"{_TOKEN}*")))
    return tuple(patterns)


def _known_form(secret: str, match: re.Match[str]) -> str:
    """A masked form (``****abcd``, or ``...abcd`` after the secret's own start), or a quote
    of the secret cut short: masked; anything else that ends like the secret is kept."""
    if match.re.groups == 0:
        return MASK
    head, marker = match.group(1), match.group(2)
    if marker.startswith("*") or (len(head) >= 3 and secret.startswith(head)):
        return MASK
    return match.group(0)


def _mask_known(text: str, secret: str) -> str:
    text = text.replace(secret, MASK)
    for hint, pattern in _known_secret_patterns(secret):
        if hint in text:
            text = pattern.sub(functools.partial(_known_form, secret), text)
    return text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with API keys, tokens, passwords and private keys replaced by a mask.

    ``secrets`` are values known to be secret (a configured upstream key, the master key):
    every occurrence is masked first, whatever its shape, with its masked forms.
    """
    for secret in secrets:
        if secret:
            text = _mask_known(text, secret)
    lowered = text.lower()
    for hints, pattern, replacement in _PATTERNS:
        if any(hint in lowered for hint in hints):
            text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Redact every string inside a JSON-like value (keys kept, structure kept)."""
    known = tuple(secrets)
    if isinstance(value, str):
        return redact(value, known)
    if isinstance(value, list):
        return [redact_value(v, known) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v, known) for k, v in value.items()}
    return value
