"""One Redis connection pool per gateway process, shared by limits, breakers and cache.

Timeouts are short so that a dead or hung Redis costs a request milliseconds before each
user falls back to in-process state; requests beyond ``max_connections`` wait for a free
connection instead of failing.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis


def create_redis(url: str, max_connections: int = 64) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=2.0,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
    )
    return Redis(connection_pool=pool)
