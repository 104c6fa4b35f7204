"""Shared foundation: settings, paths, errors, wire helpers and logging."""
