"""Exact-match response cache: key normalisation, stores (memory, Redis), replay."""
