"""Start one of our servers on a free loopback port and wait until its health check answers: the one
helper the browser tests, the API tests and the studio / soak scripts share (it was copied four times)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def local_server(
    command: Callable[[int], Sequence[str]],
    health: str,
    timeout: float = 120.0,
    log: IO | int | None = subprocess.DEVNULL,
    env: dict | None = None,
    fail: Callable[[str], None] | None = None,
) -> Iterator[tuple[str, subprocess.Popen, float]]:
    """(address, process, seconds until ``health`` answered) of ``command(port)`` run from the project
    root; stopped afterwards. ``fail(reason)`` is called when it exits or stays silent (a test passes
    ``pytest.fail``; the default raises SystemExit with the reason)."""
    port = free_port()
    start = time.perf_counter()
    process = subprocess.Popen(list(command(port)), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        while not answers(url + health):
            if process.poll() is not None or time.perf_counter() - start > timeout:
                reason = (
                    f"the server exited with status {process.returncode}"
                    if process.poll() is not None
                    else f"the server did not answer {health} within {timeout:.0f} s"
                )
                (fail or _exit)(reason)
                return
            time.sleep(0.05)
        yield url, process, time.perf_counter() - start
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _exit(reason: str) -> None:
    raise SystemExit(reason)
