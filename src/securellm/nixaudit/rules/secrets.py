"""repo-secret: private keys and API tokens in any file git would track, found by content."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule

MAX_BYTES = 1_000_000
"""Larger files are not read (keys and tokens live in small files)."""
BINARY_PROBE = 8192


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    pattern: re.Pattern[str]
    severity: Severity


_BODY = r"(?:(?:\\n|\s)+[\w-]+:[^\n\\]*)*(?:\\n|\s)+[A-Za-z0-9+/=]{40,}"
"""What follows a real armored key's header: optional armor headers, then base64 (newlines
or, inside JSON, ``\\n`` escapes); a header alone (in docs or a regex) is not a key."""


def _armored(label: str) -> re.Pattern[str]:
    return re.compile(f"-----BEGIN {label}-----" + _BODY)


SHAPES = (
    Shape(
        "an OpenSSH private key",
        _armored("OPENSSH PRIVATE KEY"),
        Severity.CRITICAL,
    ),
    Shape(
        "a PEM private key",
        _armored("(?:RSA |DSA |EC |)PRIVATE KEY"),
        Severity.CRITICAL,
    ),
    Shape(
        "a passphrase-encrypted PEM private key",
        _armored("ENCRYPTED PRIVATE KEY"),
        Severity.MEDIUM,
    ),
    Shape("a GPG secret key", _armored("PGP PRIVATE KEY BLOCK"), Severity.CRITICAL),
    Shape(
        "an age secret key", re.compile(r"AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}"), Severity.CRITICAL
    ),
    Shape(
        "an Anthropic API key",
        re.compile(r"\bsk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{60,}"),
        Severity.CRITICAL,
    ),
    Shape(
        "an OpenAI API key",
        re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"),
        Severity.CRITICAL,
    ),
    Shape("an OpenAI API key", re.compile(r"\bsk-proj-[A-Za-z0-9_-]{40,}"), Severity.CRITICAL),
    Shape("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), Severity.HIGH),
    Shape(
        "an AWS secret access key",
        re.compile(r"(?i)aws_?secret_?access_?key\W{0,4}[A-Za-z0-9/+]{40}\b"),
        Severity.CRITICAL,
    ),
    Shape("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}"), Severity.CRITICAL),
    Shape("a GitHub token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{70,}"), Severity.CRITICAL),
    Shape(
        "a Slack token", re.compile(r"\bxox[abprs]-[0-9]{6,}-[A-Za-z0-9-]{10,}"), Severity.CRITICAL
    ),
    Shape("a Hugging Face token", re.compile(r"\bhf_[A-Za-z]{34,}\b"), Severity.CRITICAL),
)

_HINT = re.compile(
    r"PRIVATE KEY|AGE-SECRET-KEY-1|sk-|AKIA|ASIA|gh[pousr]_|github_pat_|xox[abprs]-|hf_"
    r"|(?i:aws_?secret)"
)
"""One cheap search per file; only files with a hint are matched against every shape."""
_SOPS = re.compile(r"ENC\[(?:AES256_GCM|[A-Z0-9_]+),data:")
_AGE_FILE = ("age-encryption.org/v1", "-----BEGIN AGE ENCRYPTED FILE-----")
_OPENSSH_BODY = re.compile(
    r"-----BEGIN OPENSSH PRIVATE KEY-----\s+([A-Za-z0-9+/=\s]+?)-----END OPENSSH PRIVATE KEY-----"
)
_PLACEHOLDER = re.compile(r"(?i)example|x{6,}|\.\.\.|your[_-]|(.)\1{11,}")


class SecretByContent(Rule):
    id = "repo-secret"
    severity = Severity.CRITICAL
    title = "Private key or API token inside the repository, not ignored by git"
    explanation = (
        "A private key (SSH, TLS, GPG or age) or an API token committed to the configuration "
        "repository is readable by anyone with the repository, its forks and backups, and by "
        "every user of the machine once a path puts it in the world-readable Nix store."
    )
    fix = (
        "Remove it from the repository and its history, rotate it, and keep it encrypted with "
        "sops-nix or agenix (only the encrypted file is committed; the decryption key stays "
        "on the machine). Files encrypted by sops or age are recognised and not reported."
    )

    whole_repo = False  # each file is judged alone: also runs on the files pre-commit passes

    def check(self, repo: Repository) -> Iterator[Finding]:
        names = sorted([*repo.files, *repo.other_files])
        if repo.git is not None:
            repo.git.prefetch(names)  # one git call for the whole tree, not one per file
        for rel in names:
            if repo.is_ignored(rel):
                continue
            text = _read_text(repo, rel)
            if text is None or not _HINT.search(text) or _is_encrypted(text):
                continue
            for shape, line in _matches(text):
                yield self.finding(
                    rel,
                    line,
                    f"{rel}:{line} holds {shape.name} (value not shown)",
                    severity=shape.severity,
                )


def _matches(text: str) -> Iterator[tuple[Shape, int]]:
    """Each shape found, once per line, skipping documentation placeholders."""
    seen: set[tuple[str, int]] = set()
    for shape in SHAPES:
        for match in shape.pattern.finditer(text):
            if _PLACEHOLDER.search(match.group(0)):
                continue
            line = text.count("\n", 0, match.start()) + 1
            found = _openssh_protected(text, match.start()) if shape is SHAPES[0] else shape
            if (found.name, line) not in seen:
                seen.add((found.name, line))
                yield found, line


def _openssh_protected(text: str, start: int) -> Shape:
    """An OpenSSH key whose header names a cipher is passphrase-protected: medium."""
    body = _OPENSSH_BODY.match(text, start)
    try:
        raw = base64.b64decode("".join(body.group(1).split())) if body else b""
    except (binascii.Error, ValueError):
        raw = b""
    magic = b"openssh-key-v1\x00"
    if raw.startswith(magic) and len(raw) > len(magic) + 4:
        size = int.from_bytes(raw[len(magic) : len(magic) + 4], "big")
        cipher = raw[len(magic) + 4 : len(magic) + 4 + size]
        if cipher and cipher != b"none":
            return Shape(
                "a passphrase-protected OpenSSH private key", re.compile(""), Severity.MEDIUM
            )
    return SHAPES[0]


def _is_encrypted(text: str) -> bool:
    """A sops file (``ENC[...]`` values and a ``sops`` block) or an age-encrypted file."""
    if text.lstrip().startswith(_AGE_FILE):
        return True
    return bool(_SOPS.search(text)) and ("sops:" in text or '"sops"' in text or "[sops]" in text)


def _read_text(repo: Repository, rel: str) -> str | None:
    path = repo.root / rel
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\x00" in data[:BINARY_PROBE]:
        return None
    return data.decode("utf-8", "replace")


RULES = (SecretByContent(),)
