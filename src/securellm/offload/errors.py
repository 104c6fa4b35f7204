"""The exceptions offload raises inside, each rendered once into the OpenAI error shape."""

from __future__ import annotations


class OffloadError(Exception):
    """Base class: ``status`` is the HTTP status, ``code`` the OpenAI error code."""

    status = 500
    code = "offload_error"
    type = "server_error"


class BadRequest(OffloadError):
    status = 400
    code = "invalid_request"
    type = "invalid_request_error"


class ModelNotFound(OffloadError):
    status = 404
    code = "model_not_found"
    type = "invalid_request_error"


class ModelUnusable(OffloadError):
    status = 422
    code = "model_unusable"
    type = "invalid_request_error"


class Conflict(OffloadError):
    """The request cannot run in the current mode (build mode)."""

    status = 409
    code = "gpu_build_mode"
    type = "invalid_request_error"


class ModelBusy(Conflict):
    """The model has requests in flight, so it cannot be unloaded now."""

    code = "model_busy"


class QueueFull(OffloadError):
    """The model's admission queue is full; ``retry_after_s`` says when to try again."""

    status = 503
    code = "queue_full"
    type = "server_error"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BodyTooLarge(OffloadError):
    status = 413
    code = "body_too_large"
    type = "invalid_request_error"


class NoChatTemplate(OffloadError):
    """The model has no chat template offload can use; completions still work."""

    status = 422
    code = "no_chat_template"
    type = "invalid_request_error"


class InsufficientVram(OffloadError):
    """The model can never fit, even with every other model unloaded (HTTP 507)."""

    status = 507
    code = "insufficient_vram"
    type = "server_error"


class InsufficientHostMemory(OffloadError):
    """The load would not fit in the host's available RAM (HTTP 507, with the figures)."""

    status = 507
    code = "insufficient_host_memory"
    type = "server_error"


class VramBusy(OffloadError):
    """The model could fit, but busy or pinned models hold the memory right now."""

    status = 503
    code = "vram_busy"
    type = "server_error"


class BackendError(OffloadError):
    """A model server failed to start, died, or answered with garbage."""

    status = 502
    code = "backend_error"
    type = "server_error"


class LoadTimeout(BackendError):
    status = 504
    code = "load_timeout"


class GpuError(OffloadError):
    """No GPU reader works (NVML missing, nvidia-smi absent or unparsable)."""

    status = 503
    code = "gpu_unavailable"
    type = "service_unavailable"


class ModeUnavailable(OffloadError):
    """The service manager cannot be run at all (``systemctl`` missing): mode changes are off."""

    status = 503
    code = "mode_unavailable"
    type = "service_unavailable"


class ModePermissionError(OffloadError):
    """systemctl refused to stop or start a unit for lack of privileges."""

    status = 403
    code = "permission_denied"
    type = "permission_error"


class ModeStepFailed(OffloadError):
    """systemctl failed to stop or start a unit for another reason (its exit code is shown)."""

    status = 502
    code = "mode_switch_failed"
    type = "server_error"
