"""repo-build-artifact, repo-database and repo-secret."""

from __future__ import annotations

from collections.abc import Callable

from securellm.nixaudit import AuditReport

AuditFiles = Callable[..., AuditReport]


def _files(report: AuditReport, rule_id: str) -> list[str]:
    return sorted(f.file for f in report.findings if f.rule_id == rule_id)


def test_seed_build_directories_and_result_link_are_reported(seed_report: AuditReport) -> None:
    assert _files(seed_report, "repo-build-artifact") == [
        "modules/ml/Security-Architect/target",
        "modules/ml/unified-llm/node_modules",
        "result",
    ]


def test_seed_live_databases_are_reported(seed_report: AuditReport) -> None:
    assert _files(seed_report, "repo-database") == [
        "modules/ml/knowledge.db",
        "modules/ml/knowledge.db-wal",
    ]


def test_seed_private_key_is_critical(seed_report: AuditReport) -> None:
    found = [(f.file, f.severity.value) for f in seed_report.findings if f.rule_id == "repo-secret"]
    assert found == [("secrets/id_ed25519", "critical")]


def test_secret_content_never_appears_in_findings(seed_report: AuditReport) -> None:
    assert "bm90IGEga2V5" not in str(seed_report.to_dict())


def test_ignored_artifacts_are_quiet(clean_report: AuditReport) -> None:
    rules = {"repo-build-artifact", "repo-database", "repo-secret"}
    assert not [f for f in clean_report.findings if f.rule_id in rules]


def test_public_certificate_is_not_a_secret(audit_files: AuditFiles) -> None:
    cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert audit_files({"ca.pem": cert}, ["repo-secret"]).findings == []


def test_sops_encrypted_file_is_not_a_secret(audit_files: AuditFiles) -> None:
    sops = "api_key: ENC[AES256_GCM,data:abc,type:str]\nsops:\n  age: []\n"
    assert audit_files({"secrets/api.yaml": sops}, ["repo-secret"]).findings == []
