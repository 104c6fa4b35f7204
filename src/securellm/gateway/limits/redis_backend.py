"""The same GCRA limits shared by every gateway process through one Redis (Lua scripts).

Each admission runs one script: it reads every bucket the request must pass, and either
charges all of them or none (so a refusal by the provider's limit does not eat the key's
quota). Time comes from the Redis server (``TIME``), so the gateways' clocks do not matter.

Every script first checks the store's *epoch*, a token kept in ``<prefix>meta``. A gateway
that has seen an epoch and then finds none (Redis restarted empty, or was flushed) marks
the store as having lost its state at that moment (``lost``): from then on a bucket that is
missing counts as emptied at the moment of the loss, not as rested, so a restarted Redis
cannot hand out a second burst. The same scripts keep the registry of live gateway
processes (``<prefix>replicas``, one heartbeat each), which the fallback divides limits by.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from redis.asyncio import Redis

from securellm.gateway.limits.gcra import Adjustment, Bucket, BucketState, Concurrency, Decision

Settlement = tuple[Sequence[Adjustment], Concurrency | None]

# KEYS[1] is the meta hash; ARGV[1] the epoch this process knows (or would create) and
# ARGV[2] "1" when it has seen that epoch in Redis before.
PROLOGUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local meta = KEYS[1]
local got = redis.call('HMGET', meta, 'epoch', 'lost')
local epoch, lost = got[1], tonumber(got[2]) or 0
local changed = ''
if epoch ~= ARGV[1] then
  if (not epoch or lost == 0) and ARGV[2] == '1' then
    lost = now
    redis.call('HSET', meta, 'lost', string.format('%.3f', now))
  end
  if not epoch then
    redis.call('HSET', meta, 'epoch', ARGV[1])
  end
  changed = redis.call('HGET', meta, 'epoch')
end
local function stored(key, tolerance)
  local raw = redis.call('GET', key)
  if raw then
    return tonumber(raw), true
  end
  if lost > 0 then
    return lost + tolerance, false
  end
  return now, false
end
local function store(key, tat)
  redis.call('SET', key, string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
end
"""

# KEYS: meta, the n buckets, [the concurrency set]. ARGV: epoch, seen, n, then
# (interval, tolerance, cost) per bucket, then concurrency limit (0: none), member, ttl.
# Returns {allowed, denied index (-1: concurrency), retry ms, changed epoch,
# (remaining, reset ms) per bucket decided}.
ACQUIRE = (
    PROLOGUE
    + """
local n = tonumber(ARGV[3])
local base = 3 + n * 3
local climit = tonumber(ARGV[base + 1])
if climit > 0 then
  local ckey = KEYS[n + 2]
  redis.call('ZREMRANGEBYSCORE', ckey, '-inf', now - tonumber(ARGV[base + 3]))
  if redis.call('ZCARD', ckey) >= climit then
    return {0, -1, 1000, changed}
  end
end
local out = {1, 0, 0, changed}
local tats = {}
for i = 1, n do
  local interval = tonumber(ARGV[i * 3 + 1])
  local tolerance = tonumber(ARGV[i * 3 + 2])
  local tat = stored(KEYS[i + 1], tolerance)
  local start = math.max(tat, now)
  local new_tat = start + tonumber(ARGV[i * 3 + 3]) * interval
  local excess = new_tat - now - tolerance
  if excess > 0 then
    out[1] = 0
    out[2] = i
    out[3] = math.ceil(excess)
    out[3 + i * 2] = math.max(math.floor((tolerance - (start - now)) / interval), 0)
    out[4 + i * 2] = math.ceil(start - now)
    return out
  end
  tats[i] = new_tat
  out[3 + i * 2] = math.floor((tolerance - (new_tat - now)) / interval)
  out[4 + i * 2] = math.ceil(new_tat - now)
end
for i = 1, n do
  store(KEYS[i + 1], tats[i])
end
if climit > 0 then
  redis.call('ZADD', KEYS[n + 2], now, ARGV[base + 2])
  redis.call('PEXPIRE', KEYS[n + 2], math.ceil(tonumber(ARGV[base + 3])))
end
return out
"""
)

# KEYS: meta, the n buckets, the m concurrency sets. ARGV: epoch, seen, n, then
# (interval, tolerance, units) per bucket, m, then the m members to release.
# A refund to a bucket that is gone is dropped: there is nothing left to give back.
SETTLE = (
    PROLOGUE
    + """
local n = tonumber(ARGV[3])
for i = 1, n do
  local delta = tonumber(ARGV[i * 3 + 3])
  local tat, found = stored(KEYS[i + 1], tonumber(ARGV[i * 3 + 2]))
  if found or delta > 0 then
    store(KEYS[i + 1], math.max(math.max(tat, now) + delta * tonumber(ARGV[i * 3 + 1]), now))
  end
end
local m = tonumber(ARGV[n * 3 + 4])
for j = 1, m do
  redis.call('ZREM', KEYS[n + 1 + j], ARGV[n * 3 + 4 + j])
end
return changed
"""
)

# KEYS: meta, replicas, resume. ARGV: epoch, seen, replica id, ttl ms, action, hold ms.
# "beat" refreshes this replica; "resume" also agrees on one moment (the first replica to
# ask fixes it, ``hold`` from now) at which every returning replica goes back to Redis;
# "leave" removes the replica. Returns {live replicas, changed epoch, ms to wait or -1}.
HEARTBEAT = (
    PROLOGUE
    + """
local replicas, member, ttl = KEYS[2], ARGV[3], tonumber(ARGV[4])
if ARGV[5] == 'leave' then
  redis.call('ZREM', replicas, member)
  return {0, changed, -1}
end
redis.call('ZADD', replicas, now, member)
redis.call('ZREMRANGEBYSCORE', replicas, '-inf', now - ttl)
redis.call('PEXPIRE', replicas, math.ceil(ttl * 2))
local wait = -1
if ARGV[5] == 'resume' then
  local hold = tonumber(ARGV[6])
  redis.call('SET', KEYS[3], string.format('%.3f', now + hold), 'NX', 'PX', math.ceil(hold) + 1000)
  wait = math.max(math.ceil(tonumber(redis.call('GET', KEYS[3])) - now), 0)
end
return {redis.call('ZCARD', replicas), changed, wait}
"""
)


class Heartbeat(NamedTuple):
    """What a heartbeat learnt: the live replicas, and when to resume (``None``: not asked)."""

    replicas: int
    resume_in_ms: float | None


class RedisLimiter:
    """Atomic limits in Redis; raises the client's errors when Redis cannot be reached."""

    name = "redis"

    def __init__(self, client: Redis, prefix: str = "securellm:rl:") -> None:
        self.client = client
        self.prefix = prefix
        self.meta = prefix + "meta"
        # The epoch this process would create on an empty store, until it has seen one.
        self.epoch = uuid.uuid4().hex
        self.seen = "0"
        self._acquire: Any = client.register_script(ACQUIRE)
        self._settle: Any = client.register_script(SETTLE)
        self._heartbeat: Any = client.register_script(HEARTBEAT)

    def _learn(self, changed: bytes) -> None:
        if changed:
            self.epoch = changed.decode()
        self.seen = "1"

    async def acquire(
        self, buckets: Sequence[Bucket], concurrency: Concurrency | None, ttl_ms: float
    ) -> Decision:
        prefix = self.prefix
        keys = [self.meta]
        keys += [prefix + b.key for b in buckets]
        args: list[Any] = [self.epoch, self.seen, len(buckets)]
        for b in buckets:
            args += [repr(b.interval_ms), repr(b.tolerance_ms), b.cost]
        if concurrency is not None:
            keys.append(prefix + "c:" + concurrency.key)
            args += [concurrency.limit, concurrency.member, repr(ttl_ms)]
        else:
            args += [0, "", 0]
        result = await self._acquire(keys=keys, args=args)
        if result[3] or self.seen == "0":
            self._learn(result[3])
        states = {
            b.key: BucketState(result[4 + i * 2], float(result[5 + i * 2]))
            for i, b in enumerate(buckets)
            if len(result) > 5 + i * 2
        }
        if result[0] == 1:
            return Decision(True, states=states)
        if result[1] == -1:
            return Decision(False, float(result[2]), concurrency_denied=True)
        return Decision(False, float(result[2]), denied=buckets[result[1] - 1], states=states)

    async def settle(
        self, adjustments: Sequence[Adjustment], concurrency: Concurrency | None
    ) -> None:
        await self.settle_many([(adjustments, concurrency)])

    async def settle_many(self, items: Sequence[Settlement]) -> None:
        """Charge real token counts and free concurrency slots of many requests at once."""
        adjustments = [adj for adjs, _ in items for adj in adjs if adj[1]]
        releases = [c for _, c in items if c is not None]
        if not adjustments and not releases:
            return
        keys = [self.meta]
        keys += [self.prefix + bucket.key for bucket, _ in adjustments]
        keys += [self.prefix + "c:" + c.key for c in releases]
        args: list[Any] = [self.epoch, self.seen, len(adjustments)]
        for bucket, units in adjustments:
            args += [repr(bucket.interval_ms), repr(bucket.tolerance_ms), repr(units)]
        args.append(len(releases))
        args += [c.member for c in releases]
        self._learn(await self._settle(keys=keys, args=args))

    async def heartbeat(
        self, replica: str, ttl_ms: float, resume_hold_ms: float | None
    ) -> Heartbeat:
        """Register ``replica`` as alive; with ``resume_hold_ms``, also agree on when to resume."""
        action = "beat" if resume_hold_ms is None else "resume"
        result = await self._call_heartbeat(replica, ttl_ms, action, resume_hold_ms or 0)
        wait = result[2]
        return Heartbeat(int(result[0]), None if wait < 0 else float(wait))

    async def leave(self, replica: str) -> None:
        await self._call_heartbeat(replica, 0, "leave", 0)

    async def _call_heartbeat(
        self, replica: str, ttl_ms: float, action: str, hold_ms: float
    ) -> list[Any]:
        keys = [self.meta, self.prefix + "replicas", self.prefix + "resume"]
        args = [self.epoch, self.seen, replica, repr(ttl_ms), action, repr(hold_ms)]
        result: list[Any] = await self._heartbeat(keys=keys, args=args)
        self._learn(result[1])
        return result
