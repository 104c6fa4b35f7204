"""Retries, circuit breakers and routing strategies for the dispatcher."""
