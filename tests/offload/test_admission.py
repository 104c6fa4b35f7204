"""The per-model gate: ``parallel`` requests run, the rest wait in order or are refused."""

from __future__ import annotations

import asyncio

import pytest

from securellm.core.config import OffloadSettings
from securellm.core.config.offload import DEFAULT_LLAMACPP_COMMAND
from securellm.offload.admission import Admission, Gate, effective_parallel
from securellm.offload.errors import QueueFull


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_free_slot_is_taken_at_once() -> None:
    gate = Gate("m", slots=1, queue=2)
    ticket = await gate.enter()
    assert (gate.running, gate.waiting) == (1, 0)
    ticket.release()
    assert gate.running == 0


async def test_waiters_get_the_slot_in_arrival_order() -> None:
    gate = Gate("m", slots=1, queue=3)
    first = await gate.enter()
    order: list[int] = []

    async def wait(n: int) -> None:
        ticket = await gate.enter()
        order.append(n)
        ticket.release()

    waiters = [asyncio.create_task(wait(n)) for n in range(3)]
    await _settle()
    assert gate.waiting == 3 and order == []
    first.release()
    await asyncio.gather(*waiters)
    assert order == [0, 1, 2]
    assert (gate.running, gate.waiting) == (0, 0)


async def test_a_full_queue_is_refused_with_a_retry_after() -> None:
    gate = Gate("m", slots=1, queue=1)
    await gate.enter()
    queued = asyncio.create_task(gate.enter())
    await _settle()
    with pytest.raises(QueueFull) as refused:
        await gate.enter()
    assert refused.value.status == 503
    assert refused.value.retry_after_s >= 1
    queued.cancel()


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    gate = Gate("m", slots=1, queue=1)
    first = await gate.enter()
    queued = asyncio.create_task(gate.enter())
    await _settle()
    queued.cancel()
    await asyncio.gather(queued, return_exceptions=True)
    assert gate.waiting == 0
    first.release()
    assert gate.running == 0


async def test_a_waiter_cancelled_as_it_is_served_hands_the_slot_on() -> None:
    gate = Gate("m", slots=1, queue=2)
    first = await gate.enter()
    leaving = asyncio.create_task(gate.enter())
    staying = asyncio.create_task(gate.enter())
    await _settle()
    first.release()  # the slot goes to ``leaving``, which is cancelled before it runs
    leaving.cancel()
    await asyncio.gather(leaving, return_exceptions=True)
    ticket = await staying
    assert gate.running == 1
    ticket.release()
    assert gate.running == 0


async def test_releasing_a_ticket_twice_frees_one_slot() -> None:
    gate = Gate("m", slots=2, queue=0)
    one = await gate.enter()
    await gate.enter()
    one.release()
    one.release()
    assert gate.running == 1


async def test_two_slots_run_two_requests_together() -> None:
    gate = Gate("m", slots=2, queue=0)
    await gate.enter()
    await gate.enter()
    assert gate.running == 2 and gate.full()


def test_llama_cpp_python_has_one_slot_whatever_parallel_says() -> None:
    settings = OffloadSettings(parallel=4)
    assert settings.llamacpp_command == DEFAULT_LLAMACPP_COMMAND
    assert effective_parallel(settings, "m") == 1


def test_a_llama_server_command_gets_the_configured_slots() -> None:
    command = ["llama-server", "-m", "{model}", "--port", "{port}", "-np", "{parallel}"]
    settings = OffloadSettings(
        llamacpp_command=command, parallel=2, models=[{"id": "big", "parallel": 4}]
    )
    assert effective_parallel(settings, "m") == 2
    assert effective_parallel(settings, "big") == 4


def test_queue_size_comes_from_the_model_then_the_default() -> None:
    settings = OffloadSettings(queue=5, models=[{"id": "solo", "queue": 0}])
    admission = Admission(settings)
    assert admission.gate("m").queue == 5
    assert admission.gate("solo").queue == 0
