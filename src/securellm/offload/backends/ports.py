"""Hand out local ports for model servers from the configured range."""

from __future__ import annotations

import socket


class PortAllocator:
    """Ports in ``[low, high]`` that we have not handed out and that nothing listens on."""

    def __init__(self, low: int, high: int) -> None:
        self._low = low
        self._high = high
        self._taken: set[int] = set()

    def take(self) -> int:
        for port in range(self._low, self._high + 1):
            if port not in self._taken and _bindable(port):
                self._taken.add(port)
                return port
        raise OSError(f"no free port in {self._low}-{self._high}")

    def give_back(self, port: int) -> None:
        self._taken.discard(port)


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
