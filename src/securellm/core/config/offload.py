"""``[offload]``: the local model manager on a GPU host."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from securellm.core.config.sections import Section

CacheType = Literal["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1"]

# llama-cpp-python's OpenAI-compatible server, started through a thin launcher that adds the
# project's chat formats and can turn off weight repacking (``--no-repack``). Users with a real
# ``llama-server`` binary replace this list (see docs/offload.md).
DEFAULT_LLAMACPP_COMMAND: tuple[str, ...] = (
    "{python}",
    "-m",
    "securellm.localmodel",
    "--model",
    "{model}",
    "--host",
    "127.0.0.1",
    "--port",
    "{port}",
    "--n_ctx",
    "{ctx}",
    "--n_gpu_layers",
    "{ngl}",
    # one request at a time, queued by offload: a new request must not cut the running one
    "--interrupt_requests",
    "False",
    # /v1/embeddings from the same process: chat answers the same with it on (docs/mcp.md)
    "--embedding",
    "True",
)
PLACEHOLDERS = frozenset({"python", "model", "port", "ctx", "ngl", "parallel"})


class ModelPolicy(Section):
    """``[[offload.models]]``: per-model scheduling policy, matched by registry id."""

    id: str = Field(min_length=1, max_length=256)
    pinned: bool = False
    priority: int = 0
    ttl_s: float | None = Field(default=None, gt=0)
    ctx: int | None = Field(default=None, ge=128)
    ngl: int | None = Field(default=None, ge=0)
    extra_args: tuple[str, ...] = ()
    parallel: int | None = Field(default=None, ge=1, le=256)
    queue: int | None = Field(default=None, ge=0, le=10_000)
    chat_format: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class RemoteBackend(Section):
    """``[[offload.remotes]]``: an OpenAI-compatible server (vLLM, TGI) we only watch."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    base_url: str

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")


class OffloadSettings(Section):
    """Where offload listens, where models live, which GPU reader to use, how to schedule."""

    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=1, le=65535)
    model_dirs: tuple[Path, ...] = (Path("/var/lib/ml-models/llamacpp/models"),)
    ollama_dir: Path | None = Path("/var/lib/ml-models/ollama/models")
    huggingface_dir: Path | None = Path("/var/lib/ml-models/huggingface/hub")
    include_bundled: bool = True
    registry_path: Path | None = None
    gpu: Literal["auto", "nvml", "nvidia-smi", "simulated"] = "auto"
    simulated_vram_mib: int = Field(default=6144, ge=1)
    vram_cache_ms: int = Field(default=500, ge=0, le=60_000)
    vram_reserve_mib: int = Field(default=256, ge=0)
    cuda_overhead_mib: int = Field(default=300, ge=0)
    # refuse a load whose host RAM need (logits, CPU weights and KV) exceeds MemAvailable
    host_memory_check: bool = True
    host_reserve_mib: int = Field(default=512, ge=0)

    llamacpp_command: tuple[str, ...] = DEFAULT_LLAMACPP_COMMAND
    health_path: str = "/v1/models"
    port_range: tuple[int, int] = (9100, 9199)
    load_timeout_s: float = Field(default=120.0, gt=0)
    stop_timeout_s: float = Field(default=10.0, gt=0)
    # Linux: model servers get PR_SET_PDEATHSIG, so they die with offload even on SIGKILL.
    die_with_offload: bool = True
    # each model server's output: <log_dir>/offload/<model>.log, rotated once to .log.1
    server_log_max_bytes: int = Field(default=8 * 1024 * 1024, ge=4096)
    default_ctx: int = Field(default=4096, ge=128)
    parallel: int = Field(default=1, ge=1, le=256)
    queue: int = Field(default=16, ge=0, le=10_000)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    n_ubatch: int = Field(default=512, ge=1)
    cache_type_k: CacheType = "f16"
    cache_type_v: CacheType = "f16"
    flash_attn: bool = False
    swa_full: bool = True

    idle_ttl_s: float = Field(default=600.0, gt=0)
    max_loaded: int = Field(default=4, ge=1)
    busy_wait_s: float = Field(default=60.0, ge=0)
    models: tuple[ModelPolicy, ...] = ()

    ollama_url: str | None = None
    remotes: tuple[RemoteBackend, ...] = ()

    gpu_units: tuple[str, ...] = ("llamacpp.service", "ollama.service")
    systemctl: str = "systemctl"
    build_mode_threshold_mib: int = Field(default=512, ge=0)
    build_mode_wait_s: float = Field(default=30.0, ge=0)

    @property
    def serves_embeddings(self) -> bool:
        """The model server command turns embeddings on (llama-cpp-python's ``--embedding
        True`` or llama-server's ``--embeddings``)."""
        args = self.llamacpp_command
        for i, arg in enumerate(args):
            if arg == "--embeddings":
                return True
            if arg == "--embedding" and i + 1 < len(args) and args[i + 1].lower() == "true":
                return True
        return False

    @field_validator("llamacpp_command")
    @classmethod
    def _known_placeholders(cls, argv: tuple[str, ...]) -> tuple[str, ...]:
        if not argv:
            raise ValueError("llamacpp_command must not be empty")
        for part in argv:
            for name in _placeholders(part):
                if name not in PLACEHOLDERS:
                    allowed = ", ".join(sorted("{" + p + "}" for p in PLACEHOLDERS))
                    raise ValueError(f"unknown placeholder {{{name}}}; use {allowed}")
        if not any("{model}" in part for part in argv) or not any(
            "{port}" in part for part in argv
        ):
            raise ValueError("llamacpp_command must contain {model} and {port}")
        return argv

    @field_validator("ollama_url")
    @classmethod
    def _ollama_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("ollama_url must start with http:// or https://")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _ports(self) -> OffloadSettings:
        low, high = self.port_range
        if not 1 <= low <= high <= 65535:
            raise ValueError("port_range must be [low, high] with 1 <= low <= high <= 65535")
        return self

    def policy(self, model_id: str) -> ModelPolicy:
        """The policy configured for ``model_id``, or the defaults."""
        found = next((m for m in self.models if m.id == model_id), None)
        return found or ModelPolicy(id=model_id)


def _placeholders(text: str) -> list[str]:
    names: list[str] = []
    rest = text
    while "{" in rest:
        _, _, after = rest.partition("{")
        name, sep, rest = after.partition("}")
        if not sep:
            break
        names.append(name)
    return names
