"""Admission and the byte budget: what one worker process holds at a time; the rest answered 429 at once.

Without a bound, a burst of uploads queues in memory (each body, then each decoded photo) until
the process is killed. Two bounds, each held only by a request that is making progress:

- ``Admission``: a fixed number of requests with a complete body (waiting for the pipeline or in it);
  a slot is taken once the whole body has arrived and given back when the answer starts (a queue
  already full when the headers arrive is answered 429 at once, before the upload). It used to be
  taken when the headers arrived, and 16 clients that sent headers and then stopped held every slot
  for as long as they stayed connected (issue 38): every real request got 429.
- ``ByteBudget``: the request bytes held at once (bodies being read, waiting or being cut), so that
  reading bodies outside admission cannot exhaust memory either; a stalled body holds only the few
  bytes it sent, until the read deadline (``gate.read_body``) ends it with 408.

The pipeline itself runs in ``threads`` threads (``bgapp.serve.work``), so at most that many photos
are decoded at a time and the rest wait holding only their uploaded bytes.
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


class ByteBudget:
    """Bytes held by requests, with a ceiling; thread-safe (the counter is read by /health's thread too)."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError("the byte budget must allow at least one byte")
        self.limit = limit
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        return self._held

    def try_take(self, count: int) -> bool:
        """Take ``count`` bytes if they fit; False means this request must be refused (429)."""
        with self._lock:
            if self._held + count > self.limit:
                return False
            self._held += count
            return True

    def give(self, count: int) -> None:
        """Give back bytes taken with ``try_take`` (the request ended)."""
        with self._lock:
            if count > self._held:
                raise RuntimeError("ByteBudget.give of more than was taken")
            self._held -= count


class Reservation:
    """One request's bytes in the budget, given back exactly once however the request ends."""

    def __init__(self, budget: ByteBudget):
        self._budget = budget
        self.count = 0

    def take(self, count: int) -> bool:
        """Hold ``count`` more bytes for this request; False when the budget is spent."""
        if not self._budget.try_take(count):
            return False
        self.count += count
        return True

    def release(self) -> None:
        if self.count:
            self._budget.give(self.count)
            self.count = 0
