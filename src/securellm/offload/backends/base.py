"""The lifecycle every model server shares, with illegal transitions refused."""

from __future__ import annotations

import enum
from typing import Protocol

from securellm.offload.estimate import Buffers


class ServerState(enum.Enum):
    NEW = "new"
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


_ALLOWED: dict[ServerState, frozenset[ServerState]] = {
    ServerState.NEW: frozenset({ServerState.STARTING}),
    ServerState.STARTING: frozenset({ServerState.READY, ServerState.FAILED, ServerState.STOPPING}),
    ServerState.READY: frozenset({ServerState.STOPPING, ServerState.FAILED}),
    ServerState.STOPPING: frozenset({ServerState.STOPPED}),
    ServerState.FAILED: frozenset({ServerState.STOPPING, ServerState.STOPPED}),
    ServerState.STOPPED: frozenset(),
}


class Lifecycle:
    """A tiny state machine; ``move`` raises ``RuntimeError`` on an illegal transition."""

    def __init__(self) -> None:
        self.state = ServerState.NEW

    def move(self, to: ServerState) -> None:
        if to not in _ALLOWED[self.state]:
            raise RuntimeError(f"illegal transition {self.state.value} -> {to.value}")
        self.state = to


class ModelServer(Protocol):
    """One loaded model that answers the OpenAI API at ``base_url``."""

    model_id: str
    base_url: str
    upstream_model: str
    kind: str

    @property
    def state(self) -> ServerState: ...

    @property
    def pid(self) -> int | None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def buffers(self) -> Buffers | None:
        """The buffer sizes the server logged at load (llama.cpp only)."""
        ...

    async def measured_vram_mib(self) -> int | None:
        """What the server really holds on the GPU, when it can tell."""
        ...
