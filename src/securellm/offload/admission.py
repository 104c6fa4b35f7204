"""Per-model admission: at most ``parallel`` requests run on a model, the rest wait in order.

llama-cpp-python's server cuts the running request when a new one arrives (or, with
``interrupt_requests`` off, serialises them behind an unbounded lock). offload therefore lets
only as many requests through to a model's server as it has slots; later ones wait in a
bounded FIFO queue, and one that finds the queue full is refused at once with a Retry-After
estimated from how long requests on that model have been holding their slot.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from securellm.core.config import OffloadSettings
from securellm.core.config.offload import DEFAULT_LLAMACPP_COMMAND
from securellm.offload.errors import QueueFull


def effective_parallel(settings: OffloadSettings, model_id: str) -> int:
    """Slots a model's server really has: 1 for llama-cpp-python (it runs one at a time)."""
    if settings.llamacpp_command == DEFAULT_LLAMACPP_COMMAND:
        return 1
    return settings.policy(model_id).parallel or settings.parallel


def queue_size(settings: OffloadSettings, model_id: str) -> int:
    configured = settings.policy(model_id).queue
    return settings.queue if configured is None else configured


@dataclass
class Ticket:
    """One admitted request; ``release`` gives its slot to the next waiter (once)."""

    gate: Gate
    started: float
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.gate.done(self)


class Gate:
    """The slots and the queue of one model."""

    def __init__(
        self, model_id: str, slots: int, queue: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.model_id = model_id
        self.slots = slots
        self.queue = queue
        self.running = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._clock = clock
        self._hold_s = 1.0  # moving average of how long a request holds its slot

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def full(self) -> bool:
        """True when a new request would be refused (every slot busy, the queue full)."""
        return self.running >= self.slots and self.waiting >= self.queue

    def retry_after_s(self) -> int:
        """Whole seconds until the queue has likely moved by one (at least 1)."""
        return max(1, math.ceil(self._hold_s * (self.waiting + 1) / self.slots))

    def refuse(self) -> QueueFull:
        return QueueFull(
            f"model {self.model_id!r} is busy: {self.running} requests running, "
            f"{self.waiting} waiting (queue size {self.queue}); retry later",
            self.retry_after_s(),
        )

    async def enter(self) -> Ticket:
        """Wait for a slot; raises :class:`QueueFull`; a cancelled wait leaves the queue."""
        if self.running < self.slots and not self._waiters:
            self.running += 1
            return Ticket(self, self._clock())
        if self.waiting >= self.queue:
            raise self.refuse()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._pass_on()  # the slot was handed to us just as we left: hand it on
            else:
                self._waiters.remove(waiter)
            raise
        return Ticket(self, self._clock())

    def done(self, ticket: Ticket) -> None:
        held = self._clock() - ticket.started
        self._hold_s = 0.8 * self._hold_s + 0.2 * held
        self._pass_on()

    def _pass_on(self) -> None:
        """Give one running slot to the first live waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # ``running`` stays: the slot changes hands
                return
        self.running -= 1


class Admission:
    """Every model's gate, made on first use from the settings."""

    def __init__(self, settings: OffloadSettings) -> None:
        self._settings = settings
        self._gates: dict[str, Gate] = {}

    def existing(self, model_id: str) -> Gate | None:
        """The gate if the model has had requests (an unknown id makes none)."""
        return self._gates.get(model_id)

    def gate(self, model_id: str) -> Gate:
        gate = self._gates.get(model_id)
        if gate is None:
            slots = effective_parallel(self._settings, model_id)
            gate = Gate(model_id, slots, queue_size(self._settings, model_id))
            self._gates[model_id] = gate
        return gate

    def stats(self, model_id: str) -> dict[str, int]:
        gate = self._gates.get(model_id)
        if gate is None:
            return {"running": 0, "waiting": 0}
        return {"running": gate.running, "waiting": gate.waiting}
