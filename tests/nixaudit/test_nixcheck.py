"""Our parser against nix-instantiate: the conformance script and the parse-error cross-check."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from securellm.nixaudit import AuditReport
from securellm.nixaudit.nixcheck import nix_parse
from securellm.nixaudit.parser import parse_source
from support.require import require_binary

ROOT = Path(__file__).parents[2]
SYNTAX = Path(__file__).parent / "fixtures" / "syntax"
SCRIPT = ROOT / "benchmarks" / "nix_parse_conformance.py"
AuditFiles = Callable[..., AuditReport]

pytestmark = pytest.mark.nix


def conformance(directory: Path) -> subprocess.CompletedProcess[str]:
    require_binary("nix-instantiate")
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(directory)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_syntax_corpus_has_no_disagreement_with_nix() -> None:
    result = conformance(SYNTAX)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "disagreements: 0" in result.stdout


def test_corpus_holds_both_valid_and_invalid_files_for_nix() -> None:
    result = conformance(SYNTAX)
    assert "(13 valid for nix, 8 not)" in result.stdout


def test_project_nix_files_have_no_disagreement_with_nix() -> None:
    result = conformance(ROOT / "nix")
    assert result.returncode == 0, result.stdout + result.stderr


def test_conformance_script_lists_a_file_only_nix_accepts(tmp_path: Path) -> None:
    (tmp_path / "empty_inherit.nix").write_text("{ inherit; }\n")
    result = conformance(tmp_path)
    assert result.returncode == 1
    assert "empty_inherit.nix:1: we reject" in result.stdout


def test_nix_verdict_carries_the_nix_error(tmp_path: Path) -> None:
    path = tmp_path / "a.nix"
    path.write_text("{ a = 1 }\n")
    verdict = nix_parse(require_binary("nix-instantiate"), path)
    assert verdict.accepted is False
    assert "syntax error" in verdict.error


def test_file_nix_accepts_but_we_reject_is_info_and_says_so(audit_files: AuditFiles) -> None:
    require_binary("nix-instantiate")
    report = audit_files({"a.nix": "{ inherit; }\n"}, rules=["parse-error"])
    [finding] = report.findings
    assert finding.severity.value == "info"
    assert "nix-instantiate --parse` accepts it" in finding.message


def test_file_nix_rejects_stays_high(audit_files: AuditFiles) -> None:
    require_binary("nix-instantiate")
    report = audit_files({"a.nix": "{ a = 1 }\n"}, rules=["parse-error"])
    assert [f.severity.value for f in report.findings] == ["high"]


def test_error_is_reported_where_it_is_not_at_the_start() -> None:
    error = parse_source((SYNTAX / "invalid" / "stray_tokens.nix").read_bytes()).parse_error
    assert error is not None
    assert (error[0], error[1].split(" (")[0]) == (2, "syntax error at 2:8")


def test_missing_token_is_named_at_its_place() -> None:
    error = parse_source((SYNTAX / "invalid" / "missing_semicolon.nix").read_bytes()).parse_error
    assert error == (1, "syntax error at 1:8: missing ';'")


def test_file_with_only_comments_is_not_valid_nix() -> None:
    error = parse_source((SYNTAX / "invalid" / "only_comment.nix").read_bytes()).parse_error
    assert error is not None and "no Nix expression" in error[1]


def busy_then_ok_nix(tmp_path: Path, busy_times: int) -> str:
    """A stand-in for nix-instantiate that reports a locked database ``busy_times`` times,
    then accepts: how Nix answers when processes started together race for its state."""
    counter = tmp_path / "calls"
    script = tmp_path / "nix-instantiate"
    script.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, sys\n"
        f"c = pathlib.Path({str(counter)!r})\n"
        "n = int(c.read_text()) if c.exists() else 0\n"
        "c.write_text(str(n + 1))\n"
        f"if n < {busy_times}:\n"
        "    sys.stderr.write(\"error: SQLite database '/s/db.sqlite' is busy\\n\")\n"
        "    sys.exit(1)\n"
    )
    script.chmod(0o755)
    return str(script)


def test_locked_nix_database_is_asked_again_not_a_syntax_error(tmp_path: Path) -> None:
    nix = busy_then_ok_nix(tmp_path, busy_times=2)
    assert nix_parse(nix, tmp_path / "x.nix").accepted is True


def test_nix_database_locked_every_time_gives_no_verdict(tmp_path: Path) -> None:
    nix = busy_then_ok_nix(tmp_path, busy_times=99)
    verdict = nix_parse(nix, tmp_path / "x.nix")
    assert verdict.accepted is None
    assert "is busy" in verdict.error
