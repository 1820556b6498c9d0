"""The pipeline's threads, with a deadline per request and nothing done for a client that has gone.

A cut runs in a thread (the pipeline is synchronous numpy, OpenCV and ONNX Runtime). Each request
waits for its job under ``compute_timeout_s`` and under its client: when the client disconnects or
the deadline passes, a job that has not started is taken off the queue and never runs, and a running
one is left to finish with its result dropped (a thread cannot be stopped in the middle of a C call;
the cap on points and the megapixel limit bound how long it can take). The threads are daemons, so a
process told to stop exits after its grace period even with a cut still running, instead of waiting
for it (a ``ThreadPoolExecutor``'s threads are joined at exit: uvicorn's graceful-shutdown timeout
ended the requests, then the process hung on the thread).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class ClientGone(Exception):
    """The client disconnected before its answer: nothing is sent, and its job is dropped."""


class JobTimeout(Exception):
    """The job did not finish within the compute deadline."""

    def __init__(self, seconds: float):
        super().__init__(f"the cut took longer than this server's {seconds:g} s limit")
        self.seconds = seconds


class Pool:
    """``threads`` daemon threads taking jobs in order; a cancelled job is skipped, never run."""

    def __init__(self, threads: int, name: str = "bgapp-pipeline"):
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]]] = queue.SimpleQueue()
        self.ran = 0  # jobs started (for /health: what a left client still cost)
        self.skipped = 0  # jobs cancelled before they started
        for number in range(threads):
            threading.Thread(target=self._work, name=f"{name}-{number}", daemon=True).start()

    def submit(self, job: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((future, job))
        return future

    def _work(self) -> None:
        while True:
            future, job = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                self.skipped += 1  # its client left or its deadline passed while it waited
                continue
            self.ran += 1
            try:
                result = job()
            except BaseException as error:  # noqa: BLE001 - handed to the request that waits for it
                future.set_exception(error)
            else:
                future.set_result(result)


async def run_job(pool: Pool, job: Callable[[], Any], timeout_s: float, gone: asyncio.Event | None = None) -> Any:
    """``job``'s result from ``pool``; ``ClientGone`` if ``gone`` is set first, ``JobTimeout`` after
    ``timeout_s``. Either way a job that has not started is cancelled and never runs."""
    queued = pool.submit(job)
    future = asyncio.wrap_future(queued)
    watcher = asyncio.ensure_future(gone.wait()) if gone is not None else None
    try:
        waiting = {future} if watcher is None else {future, watcher}
        done, _ = await asyncio.wait(waiting, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if future in done:
            return future.result()
        if watcher is not None and watcher in done:
            raise ClientGone()
        raise JobTimeout(timeout_s)
    finally:
        if watcher is not None:
            watcher.cancel()
        if not future.done():
            queued.cancel()  # now, not on the loop's next turn: skipped if it has not started
            future.cancel()
