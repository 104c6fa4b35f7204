"""Who reads which new file while a scan runs: the scan in order, or ``Registry.find`` at once."""

from __future__ import annotations

import threading

from securellm.offload.discovery import Candidate


class ScanClaims:
    """Each new candidate of the running scan is read exactly once, by whoever claims it first.

    ``find`` claims by id (the readable id or the one with the quantisation); a reader that
    finds the candidate already claimed waits for the claim's event instead of reading again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Candidate] = {}
        self._claimed: dict[Candidate, threading.Event] = {}
        self._by_find: set[Candidate] = set()

    def open(self, new: list[Candidate]) -> None:
        with self._lock:
            for candidate in reversed(new):  # the first candidate wins a shared id
                self._by_id[candidate.alt_id] = candidate
                self._by_id[candidate.id_hint] = candidate

    def close(self) -> None:
        with self._lock:
            self._by_id.clear()
            self._claimed.clear()
            self._by_find.clear()

    def claim_for_find(self, model_id: str) -> tuple[Candidate, threading.Event, bool] | None:
        """(candidate, its done event, whether the caller must read it); None if not pending."""
        with self._lock:
            candidate = self._by_id.get(model_id)
            if candidate is None:
                return None
            event = self._claimed.get(candidate)
            if event is not None:
                return candidate, event, False
            event = self._claimed[candidate] = threading.Event()
            self._by_find.add(candidate)
            return candidate, event, True

    def claim_for_scan(self, candidate: Candidate) -> threading.Event | None:
        """The event to set once read, or None when ``find`` took this candidate."""
        with self._lock:
            if candidate in self._by_find:
                return None
            event = self._claimed[candidate] = threading.Event()
            return event
