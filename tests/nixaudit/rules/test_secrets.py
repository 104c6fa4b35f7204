"""repo-secret: keys and tokens found by what a file holds, whatever its name.

Every key and token is made at test time (ssh-keygen, random characters), so none sits in
this project's tree for a secret scanner to trip on.
"""

from __future__ import annotations

import secrets
import string
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.support.require import require_binary

from securellm.nixaudit import AuditReport
from securellm.nixaudit.audit import audit_files as audit_paths

AuditFiles = Callable[..., AuditReport]
RULE = ["repo-secret"]
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _ssh_key(tmp_path: Path, passphrase: str = "") -> tuple[str, str]:
    """(private, public) of a fresh ed25519 key made by the real ssh-keygen."""
    keygen = require_binary("ssh-keygen")
    key = tmp_path / "generated"
    subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", passphrase, "-C", "test", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    return key.read_text(), key.with_suffix(".pub").read_text()


def _found(report: AuditReport) -> list[tuple[str, str]]:
    return [(f.file, f.severity.value) for f in report.findings]


def test_openssh_key_named_like_a_host_key_is_critical(
    audit_files: AuditFiles, tmp_path: Path
) -> None:
    private, _ = _ssh_key(tmp_path)
    report = audit_files({"hosts/a/ssh_host_ed25519_key": private}, RULE)
    assert _found(report) == [("hosts/a/ssh_host_ed25519_key", "critical")]


def test_the_finding_never_shows_the_key(audit_files: AuditFiles, tmp_path: Path) -> None:
    private, _ = _ssh_key(tmp_path)
    report = audit_files({"deploy_key": private}, RULE)
    body = private.splitlines()[1]
    assert report.findings and body not in str(report.to_dict())


def test_passphrase_protected_openssh_key_is_medium(
    audit_files: AuditFiles, tmp_path: Path
) -> None:
    private, _ = _ssh_key(tmp_path, passphrase="correct horse battery")
    assert _found(audit_files({"deploy_key": private}, RULE)) == [("deploy_key", "medium")]


def test_public_keys_are_not_secrets(audit_files: AuditFiles, tmp_path: Path) -> None:
    _, public = _ssh_key(tmp_path)
    age_public = "age1" + _random(BECH32, 58)
    files = {"keys/me.pub": public, "secrets/recipients.txt": age_public + "\n"}
    assert audit_files(files, RULE).findings == []


def test_age_secret_key_in_any_file_is_critical(audit_files: AuditFiles) -> None:
    identity = "AGE-SECRET-KEY-1" + _random(BECH32.upper(), 58)
    report = audit_files({"key.txt": f"# created: today\n{identity}\n"}, RULE)
    assert [(f.file, f.line, f.severity.value) for f in report.findings] == [
        ("key.txt", 2, "critical")
    ]


def test_api_token_in_a_nix_file_is_critical(audit_files: AuditFiles) -> None:
    token = "ghp_" + _random(string.ascii_letters + string.digits, 36)
    report = audit_files({"modules/ci.nix": f'environment.variables.GH = "{token}";'}, RULE)
    assert _found(report) == [("modules/ci.nix", "critical")]
    assert token not in str(report.to_dict())


def test_each_token_shape_is_recognised(audit_files: AuditFiles) -> None:
    alnum = string.ascii_letters + string.digits
    tokens = {
        "openai": "sk-proj-" + _random(alnum, 60),
        "anthropic": "sk-ant-api03-" + _random(alnum, 90),
        "aws": "AKIA" + _random(string.ascii_uppercase + string.digits, 16),
        "github": "github_pat_" + _random(alnum, 82),
    }
    report = audit_files({f"{name}.env": f"KEY={t}\n" for name, t in tokens.items()}, RULE)
    assert sorted(f.file for f in report.findings) == sorted(f"{n}.env" for n in tokens)


def test_documentation_placeholders_are_not_tokens(audit_files: AuditFiles) -> None:
    text = "export KEY=sk-proj-" + "x" * 48 + "\nAWS=AKIA" + "IOSFODNN7EXAMPLE\n"
    assert audit_files({"README.md": text}, RULE).findings == []


def test_sops_encrypted_json_is_left_alone(audit_files: AuditFiles) -> None:
    text = '{"token": "ENC[AES256_GCM,data:Zm9v,type:str]", "sops": {"age": []}}\n'
    assert audit_files({"secrets/api.json": text}, RULE).findings == []


def test_age_encrypted_file_is_left_alone(audit_files: AuditFiles) -> None:
    text = "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"
    assert audit_files({"secrets/wifi.age": text}, RULE).findings == []


def test_a_key_that_git_ignores_is_not_reported(audit_files: AuditFiles, tmp_path: Path) -> None:
    private, _ = _ssh_key(tmp_path)
    files = {".gitignore": "*_key\n", "ssh_host_ed25519_key": private}
    assert audit_files(files, RULE).findings == []


def test_binary_files_are_skipped(audit_files: AuditFiles, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "blob.bin").write_bytes(b"\x00\x01-----BEGIN OPENSSH " + b"PRIVATE KEY-----")
    assert audit_files({}, RULE).findings == []


def test_a_key_header_without_a_key_is_not_a_secret(audit_files: AuditFiles) -> None:
    header = "-----BEGIN OPENSSH " + "PRIVATE KEY-----"
    text = f'MARKER = "{header}"  # what a key file starts with\n'
    assert audit_files({"scan.py": text}, RULE).findings == []


def test_a_pem_key_inside_json_is_critical(audit_files: AuditFiles) -> None:
    body = _random(string.ascii_letters + string.digits, 64)
    key = "-----BEGIN " + "PRIVATE KEY-----\\n" + body + "\\n-----END " + "PRIVATE KEY-----\\n"
    text = '{"type": "service_account", "private_key": "' + key + '"}\n'
    assert _found(audit_files({"gcp.json": text}, RULE)) == [("gcp.json", "critical")]


def test_single_file_mode_checks_the_files_it_is_given(tmp_path: Path) -> None:
    private, _ = _ssh_key(tmp_path)
    target = tmp_path / "staged" / "deploy_key"
    target.parent.mkdir()
    target.write_text(private)
    report = audit_paths([target], rules=RULE)
    assert [f.severity.value for f in report.findings] == ["critical"]
    assert "repo-secret" not in report.skipped_rules
