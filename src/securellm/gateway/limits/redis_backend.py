"""The same GCRA limits shared by every gateway process through one Redis (one Lua script).

Each admission runs one script: it reads every bucket the request must pass, and either
charges all of them or none (so a refusal by the provider's limit does not eat the key's
quota). Time comes from the Redis server (``TIME``), so the gateways' clocks do not matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from securellm.gateway.limits.gcra import Bucket, BucketState, Concurrency, Decision

Settlement = tuple[Sequence[tuple[str, float, int]], Concurrency | None]

ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local n = tonumber(ARGV[1])
local ckey_limit = tonumber(ARGV[2 + n * 3])
if ckey_limit > 0 then
  local ckey = KEYS[n + 1]
  local ttl = tonumber(ARGV[4 + n * 3])
  redis.call('ZREMRANGEBYSCORE', ckey, '-inf', now - ttl)
  if redis.call('ZCARD', ckey) >= ckey_limit then
    return {0, -1, 1000}
  end
end
local out = {1, 0, 0}
local tats = {}
for i = 1, n do
  local interval = tonumber(ARGV[i * 3 - 1])
  local tolerance = tonumber(ARGV[i * 3])
  local cost = tonumber(ARGV[i * 3 + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  local start = math.max(tat, now)
  local new_tat = start + cost * interval
  local excess = new_tat - now - tolerance
  if excess > 0 then
    local left = math.max(math.floor((tolerance - (start - now)) / interval), 0)
    out[1] = 0
    out[2] = i
    out[3] = math.ceil(excess)
    out[2 + i * 2] = left
    out[3 + i * 2] = math.ceil(start - now)
    return out
  end
  tats[i] = new_tat
  out[2 + i * 2] = math.floor((tolerance - (new_tat - now)) / interval)
  out[3 + i * 2] = math.ceil(new_tat - now)
end
for i = 1, n do
  redis.call('SET', KEYS[i], string.format('%.3f', tats[i]), 'PX', math.ceil(tats[i] - now) + 1000)
end
if ckey_limit > 0 then
  local ckey = KEYS[n + 1]
  redis.call('ZADD', ckey, now, ARGV[3 + n * 3])
  redis.call('PEXPIRE', ckey, math.ceil(tonumber(ARGV[4 + n * 3])))
end
return out
"""

SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local n = tonumber(ARGV[1])
for i = 1, n do
  local interval = tonumber(ARGV[i * 2])
  local delta = tonumber(ARGV[i * 2 + 1])
  if delta ~= 0 then
    local tat = tonumber(redis.call('GET', KEYS[i]) or now)
    local new_tat = math.max(math.max(tat, now) + delta * interval, now)
    local ttl = math.ceil(new_tat - now) + 1000
    redis.call('SET', KEYS[i], string.format('%.3f', new_tat), 'PX', ttl)
  end
end
local m = tonumber(ARGV[n * 2 + 2])
for j = 1, m do
  redis.call('ZREM', KEYS[n + j], ARGV[n * 2 + 2 + j])
end
return 1
"""


class RedisLimiter:
    """Atomic limits in Redis; raises the client's errors when Redis cannot be reached."""

    name = "redis"

    def __init__(self, client: Redis, prefix: str = "securellm:rl:") -> None:
        self.client = client
        self.prefix = prefix
        self._acquire: Any = client.register_script(ACQUIRE)
        self._settle: Any = client.register_script(SETTLE)

    async def acquire(
        self, buckets: Sequence[Bucket], concurrency: Concurrency | None, ttl_ms: float
    ) -> Decision:
        keys = [self.prefix + b.key for b in buckets]
        args: list[Any] = [len(buckets)]
        for b in buckets:
            args += [repr(b.interval_ms), repr(b.tolerance_ms), b.cost]
        if concurrency is not None:
            keys.append(self.prefix + "c:" + concurrency.key)
            args += [concurrency.limit, concurrency.member, repr(ttl_ms)]
        else:
            args += [0, "", 0]
        raw = await self._acquire(keys=keys, args=args)
        result = [int(x) for x in raw]
        states = {
            b.key: BucketState(result[3 + i * 2], float(result[4 + i * 2]))
            for i, b in enumerate(buckets)
            if len(result) > 4 + i * 2
        }
        if result[0] == 1:
            return Decision(True, states=states)
        if result[1] == -1:
            return Decision(False, float(result[2]), concurrency_denied=True)
        return Decision(False, float(result[2]), denied=buckets[result[1] - 1], states=states)

    async def settle(
        self, adjustments: Sequence[tuple[str, float, int]], concurrency: Concurrency | None
    ) -> None:
        await self.settle_many([(adjustments, concurrency)])

    async def settle_many(self, items: Sequence[Settlement]) -> None:
        """Charge real token counts and free concurrency slots of many requests at once."""
        adjustments = [adj for adjs, _ in items for adj in adjs if adj[2]]
        releases = [c for _, c in items if c is not None]
        if not adjustments and not releases:
            return
        keys = [self.prefix + key for key, _, _ in adjustments]
        keys += [self.prefix + "c:" + c.key for c in releases]
        args: list[Any] = [len(adjustments)]
        for _, interval, delta in adjustments:
            args += [repr(interval), delta]
        args.append(len(releases))
        args += [c.member for c in releases]
        await self._settle(keys=keys, args=args)
