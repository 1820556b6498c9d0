"""Admission: a fixed number of requests per worker process, the rest answered 429 at once.

Without a bound, a burst of uploads queues in memory (each body, then each decoded photo) until
the process is killed. Each admitted request holds one slot from the moment its headers arrive
(before its body is read) until its answer starts; the pipeline itself runs in a thread pool of
``threads`` threads, so at most that many photos are decoded at a time and the rest wait holding
only their uploaded bytes.
"""

from __future__ import annotations

import threading


class Admission:
    """A counter of admitted requests (running and waiting) with a hard ceiling; thread-safe."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError("the queue must admit at least one request")
        self.limit = limit
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        return self._held

    def try_enter(self) -> bool:
        """Take a slot if one is free; False means answer 429 now."""
        with self._lock:
            if self._held >= self.limit:
                return False
            self._held += 1
            return True

    def leave(self) -> None:
        """Give a slot back (once per successful ``try_enter``)."""
        with self._lock:
            if self._held <= 0:
                raise RuntimeError("Admission.leave without a matching try_enter")
            self._held -= 1


class Slot:
    """One admitted request's slot, given back exactly once however the request ends."""

    def __init__(self, admission: Admission):
        self._admission = admission
        self._open = True

    def release(self) -> None:
        if self._open:
            self._open = False
            self._admission.leave()
