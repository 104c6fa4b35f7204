"""gpu-no-build-mode: GPU inference services with no way to free the GPU for CUDA builds."""

from __future__ import annotations

from collections.abc import Iterator

from securellm.nixaudit.model import Finding, Severity
from securellm.nixaudit.nixfile import Assignment
from securellm.nixaudit.repo import Repository
from securellm.nixaudit.rule import Rule, is_true

GPU_SERVICES = ("ollama", "llama-cpp", "llamacpp", "llama-server")
STOP_WORDS = ("systemctl stop", "gpu-mode-build")


def _gpu_services(repo: Repository) -> list[Assignment]:
    found = []
    for name in GPU_SERVICES:
        enabled = repo.effective("services", name, "enable")
        if is_true(enabled) and enabled is not None:
            found.append(enabled)
        found.extend(repo.under("systemd", "services", name)[:1])
    return found


def _has_nvidia(repo: Repository) -> bool:
    if repo.under("hardware", "nvidia") or repo.under("hardware", "nvidia-container-toolkit"):
        return True
    drivers = repo.effective("services", "xserver", "videoDrivers")
    acceleration = repo.effective("services", "ollama", "acceleration")
    cuda = repo.effective("nixpkgs", "config", "cudaSupport")
    return (
        (drivers is not None and "nvidia" in drivers.value)
        or (acceleration is not None and acceleration.value == "cuda")
        or is_true(cuda)
    )


def _can_free_gpu(repo: Repository) -> bool:
    if repo.under("nix", "settings", "pre-build-hook"):
        return True
    for conflict in repo.under("systemd", "targets"):
        if conflict.path[-1] == "conflicts" and any(s in conflict.value for s in GPU_SERVICES):
            return True
    for nix_file in repo.files.values():
        if any("buildmode" in o.dotted.lower() for o in nix_file.options):
            return True
        for literal in nix_file.literals:
            text = literal.text
            if any(w in text for w in STOP_WORDS) and any(s in text for s in GPU_SERVICES):
                return True
    return False


class GpuNoBuildMode(Rule):
    id = "gpu-no-build-mode"
    severity = Severity.MEDIUM
    title = "GPU inference services without a way to free the GPU for builds"
    explanation = (
        "llama.cpp and Ollama keep models resident in VRAM. CUDA builds (magma, ggml-cuda, "
        "torch) started by nixos-rebuild then compete for the same memory and fail or swap; "
        "nothing in the configuration stops the services for a build."
    )
    fix = (
        "Add a build mode: a systemd target that conflicts with the GPU services (or a "
        "`gpu-mode-build` script running `systemctl stop llama-cpp ollama`), and use it "
        "before heavy rebuilds; optionally a nix.settings.pre-build-hook."
    )

    def check(self, repo: Repository) -> Iterator[Finding]:
        services = _gpu_services(repo)
        if not services or not _has_nvidia(repo) or _can_free_gpu(repo):
            return
        first = min(services, key=lambda a: (a.file, a.line))
        names = sorted({a.path[1] if a.path[0] == "services" else a.path[2] for a in services})
        yield self.finding(
            first.file, first.line, f"GPU services {', '.join(names)} run with no build mode"
        )


RULES = (GpuNoBuildMode(),)
