"""Tool groups; each module has ``register(server, state)``."""
