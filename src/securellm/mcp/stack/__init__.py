"""HTTP access to the gateway and offload APIs, behind a rate limiter and circuit breakers."""
