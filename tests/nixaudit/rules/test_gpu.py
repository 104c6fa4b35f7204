"""gpu-no-build-mode."""

from __future__ import annotations

from collections.abc import Callable

from securellm.nixaudit import AuditReport

AuditFiles = Callable[..., AuditReport]

RULE = ["gpu-no-build-mode"]
GPU = 'services.ollama.enable = true;\nservices.ollama.acceleration = "cuda";\n'


def test_seed_gpu_services_without_build_mode_are_reported(seed_report: AuditReport) -> None:
    found = [f for f in seed_report.findings if f.rule_id == "gpu-no-build-mode"]
    assert [(f.file, f.message) for f in found] == [
        ("modules/ml/llamacpp.nix", "GPU services llama-cpp, ollama run with no build mode")
    ]


def test_clean_build_mode_target_is_enough(clean_report: AuditReport) -> None:
    assert not [f for f in clean_report.findings if f.rule_id == "gpu-no-build-mode"]


def test_gpu_service_without_nvidia_is_quiet(audit_files: AuditFiles) -> None:
    assert audit_files({"a.nix": "services.ollama.enable = true;"}, RULE).findings == []


def test_stop_script_counts_as_build_mode(audit_files: AuditFiles) -> None:
    script = 'environment.shellAliases.gpu-free = "sudo systemctl stop ollama.service";'
    assert audit_files({"a.nix": GPU + script}, RULE).findings == []


def test_pre_build_hook_counts_as_build_mode(audit_files: AuditFiles) -> None:
    hook = "nix.settings.pre-build-hook = ./hook.sh;"
    assert audit_files({"a.nix": GPU + hook}, RULE).findings == []
