"""Shared test helpers: real servers, free ports and the CI skip/fail rule."""
