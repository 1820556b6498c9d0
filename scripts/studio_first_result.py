"""How long a seller waits for the studio's first cut-out: start the real server, wait until it answers
its health check, open the page in headless Chromium and time until the photo, mask and cut-out are
drawn (Streamlit's loading skeleton gone). Prints one line per run; nothing is timed inside the tests.

    python scripts/studio_first_result.py [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
READY = """() => !document.querySelector('[data-testid="stAppSkeleton"]')
    && [...document.querySelectorAll('[data-testid="stImage"] img')].filter(i => i.complete && i.naturalWidth > 0).length >= 3"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_run(chromium: str) -> tuple[float, float]:
    """(seconds from launch to the health check answering, seconds from then to the first cut-out)."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    start = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
                               "--server.address", "127.0.0.1", "--server.headless", "true"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.05)
            if time.perf_counter() - start > 120:
                raise SystemExit("the server did not answer within 120 s")
        answered = time.perf_counter()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.wait_for_function(READY, timeout=120_000)
            shown = time.perf_counter()
            browser.close()
        return answered - start, shown - answered
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("needs the system Chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    for run in range(1, args.runs + 1):
        up, first = one_run(chromium)
        print(f"run {run}: server answering after {up:.1f} s; first cut-out {first:.1f} s later", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
