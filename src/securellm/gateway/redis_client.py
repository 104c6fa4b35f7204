"""One Redis connection pool per gateway process, with short timeouts so failures degrade fast."""

from __future__ import annotations

from redis.asyncio import Redis


def create_redis(url: str) -> Redis:
    return Redis.from_url(
        url,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        health_check_interval=15,
        retry_on_timeout=False,
    )
