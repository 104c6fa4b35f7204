"""GCRA arithmetic and the in-process limiter."""

from __future__ import annotations

from securellm.gateway.limits import estimate
from securellm.gateway.limits.gcra import Bucket, Concurrency, MemoryLimiter
from securellm.gateway.limits.headers import duration


class ClockedLimiter(MemoryLimiter):
    """The in-process limiter on a clock the test moves."""

    def __init__(self, *, spent: bool = False) -> None:
        super().__init__()
        self.clock = 1_000_000.0
        if spent:
            self.spent_at_ms = self.clock

    def now_ms(self) -> float:  # type: ignore[override]
        return self.clock


def requests(limit: int, capacity: int | None = None, key: str = "k") -> Bucket:
    return Bucket(key, limit, capacity or limit, 1, "requests", "key")


async def admitted(limiter: MemoryLimiter, bucket: Bucket, tries: int) -> int:
    results = [(await limiter.acquire([bucket], None, 60_000)).allowed for _ in range(tries)]
    return sum(results)


async def test_a_rested_bucket_admits_its_capacity_at_once() -> None:
    assert await admitted(ClockedLimiter(), requests(60, capacity=10), 25) == 10


async def test_the_bucket_refills_at_the_limit_rate() -> None:
    limiter = ClockedLimiter()
    bucket = requests(60, capacity=10)
    await admitted(limiter, bucket, 10)
    limiter.clock += 3000  # 60/min is one per second
    assert await admitted(limiter, bucket, 10) == 3


async def test_refusal_says_when_to_retry() -> None:
    limiter = ClockedLimiter()
    bucket = requests(60, capacity=1)
    await limiter.acquire([bucket], None, 60_000)
    refused = await limiter.acquire([bucket], None, 60_000)
    assert not refused.allowed
    assert refused.denied == bucket
    assert refused.retry_after_ms == 1000


async def test_remaining_counts_down() -> None:
    limiter = ClockedLimiter()
    bucket = requests(5)
    states = [(await limiter.acquire([bucket], None, 60_000)).states["k"] for _ in range(3)]
    assert [s.remaining for s in states] == [4, 3, 2]


async def test_all_or_nothing_a_refusal_charges_no_bucket() -> None:
    limiter = ClockedLimiter()
    open_bucket, full = requests(100, key="open"), requests(1, key="full")
    await limiter.acquire([full], None, 60_000)
    refused = await limiter.acquire([open_bucket, full], None, 60_000)
    assert not refused.allowed
    after = await limiter.acquire([open_bucket], None, 60_000)
    assert after.states["open"].remaining == 99


async def test_adjust_refunds_unused_tokens() -> None:
    limiter = ClockedLimiter()
    tokens = Bucket("t", 1000, 1000, 800, "tokens", "key")
    await limiter.acquire([tokens], None, 60_000)
    await limiter.settle([(tokens, -700)], None)
    probe = Bucket("t", 1000, 1000, 1, "tokens", "key")
    assert (await limiter.acquire([probe], None, 60_000)).states["t"].remaining == 899


async def test_concurrency_limit_counts_requests_in_flight() -> None:
    limiter = ClockedLimiter()
    first, second = Concurrency("c", 1, "r1"), Concurrency("c", 1, "r2")
    assert (await limiter.acquire([], first, 60_000)).allowed
    refused = await limiter.acquire([], second, 60_000)
    await limiter.settle([], first)
    assert refused.concurrency_denied
    assert (await limiter.acquire([], second, 60_000)).allowed


async def test_a_lost_concurrency_slot_expires() -> None:
    limiter = ClockedLimiter()
    await limiter.acquire([], Concurrency("c", 1, "crashed"), 60_000)
    limiter.clock += 61_000
    assert (await limiter.acquire([], Concurrency("c", 1, "next"), 60_000)).allowed


async def test_a_share_admits_its_part_of_the_burst_and_of_the_rate() -> None:
    limiter = ClockedLimiter()
    half = requests(60, capacity=10).share(2)
    at_once = await admitted(limiter, half, 10)
    limiter.clock += 4000  # 30/min is one every 2 s
    assert (at_once, await admitted(limiter, half, 10)) == (5, 2)


async def test_a_share_keeps_one_unit_of_a_burst_smaller_than_the_parts() -> None:
    assert await admitted(ClockedLimiter(), requests(60, capacity=1).share(4), 5) == 1


def test_a_share_caps_a_token_cost_at_its_part_of_the_burst() -> None:
    tokens = Bucket("t", 1000, 100, 80, "tokens", "key")
    assert tokens.share(2).cost == 50


async def test_a_limiter_started_spent_gives_the_rate_but_no_burst() -> None:
    limiter = ClockedLimiter(spent=True)
    bucket = requests(60, capacity=10)
    at_once = await admitted(limiter, bucket, 10)
    limiter.clock += 3000
    assert (at_once, await admitted(limiter, bucket, 10)) == (0, 3)


async def test_a_limiter_started_spent_counts_what_is_still_owed() -> None:
    limiter = ClockedLimiter(spent=True)
    bucket = requests(60, capacity=10)
    limiter.clock += 4000
    assert limiter.owed(bucket) == 6


def test_estimate_reads_openai_chat_bodies() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 50}
    assert estimate.prompt_tokens(body) == 100 + 4 + 1
    assert estimate.output_tokens(body, "chat", 256) == 50


def test_estimate_reads_anthropic_bodies_with_system_and_blocks() -> None:
    body = {
        "system": [{"type": "text", "text": "s" * 40}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "u" * 80}]}],
        "max_tokens": 1024,
    }
    assert estimate.prompt_tokens(body) == 30 + 4 + 1
    assert estimate.output_tokens(body, "messages", 256) == 1024


def test_estimate_uses_the_default_output_when_none_is_asked() -> None:
    assert estimate.output_tokens({"prompt": "hi"}, "completions", 256) == 256
    assert estimate.output_tokens({"input": "hi"}, "embeddings", 256) == 0


def test_reset_durations_use_openai_format() -> None:
    assert [duration(20), duration(1500), duration(360_000)] == ["20ms", "1.5s", "6m0s"]
