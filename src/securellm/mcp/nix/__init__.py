"""Nix CLI access: validated inputs, async argv-only subprocesses, an LRU+TTL cache."""
