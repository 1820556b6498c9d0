"""What the studio scripts share: the real server on a free loopback port, and Chromium's flags."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts._server import local_server  # noqa: E402

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOWN = """() => !document.querySelector('[data-testid="stAppSkeleton"]')
    && document.querySelector('iframe[title*="streamlit_image_coordinates"]')
    && [...document.querySelectorAll('[data-testid="stImage"] img')].filter(i => i.complete && i.naturalWidth > 0).length >= 2"""
IDLE = """() => !document.querySelector('[data-testid="stStatusWidget"]')"""
UPLOADER = '[data-testid="stSidebar"] [data-testid="stFileUploaderDropzoneInput"]'
"""The sidebar's uploader (always there; the page's own drop zone shows only while the session has no photos)."""
DROP_ZONE = '[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]'
SETTLED = """() => !document.querySelector('[data-testid="stStatusWidget"]') && !document.querySelector('[data-stale="true"]')"""
"""No run going and nothing left over from the last one (Streamlit marks such elements ``data-stale``)."""


def settle(page, wait: Callable[[object, str], None] | None = None) -> None:
    """Wait until the page has finished its rerun: ``SETTLED`` twice, 0.4 s apart (the status widget
    shows only some time after a run starts, so one look right after a click can pass too early).
    ``wait(page, condition)`` does the waiting (the tests pass one that explains a timeout)."""
    for _ in range(2):
        page.wait_for_timeout(400)
        if wait is None:
            page.wait_for_function(SETTLED, timeout=60_000)
        else:
            wait(page, SETTLED)


def chromium() -> str:
    """The system Chromium, or exit with a one-line reason."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise SystemExit("needs the system Chromium (apt-get install chromium)")
    return path


def streamlit_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
    ]


@contextlib.contextmanager
def studio_server(
    timeout: float = 120.0, log=subprocess.DEVNULL, fail=None
) -> Iterator[tuple[str, subprocess.Popen, float]]:
    """(address, process, seconds until it answered its health check) of a fresh studio server."""
    with local_server(streamlit_command, "/_stcore/health", timeout, log, fail=fail) as running:
        yield running
