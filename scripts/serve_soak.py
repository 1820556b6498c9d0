"""Load and soak test of ``python -m bgapp serve``: does it stay up, answer everything, and stay flat?

Starts a real server on 127.0.0.1 (never another address), then sends ``--requests`` photos
(1-12 MP JPEGs and PNGs of rendered products, mixed remove.bg-style and ``/cut`` calls) from
``--clients`` concurrent clients, plus ``--bad`` bad requests spread over the run (not an image, no
key, a wrong key, a bad field, a file over the upload limit, a photo over the megapixel limit, an
image_url, a body over the request limit). Every 100 answers it prints p50/p95 latency, throughput,
errors by kind and the server's RSS (all its processes). Then it compares throughput with 1 and 2
worker processes on 1 MP photos. It prints the targets and exits 1 if one is missed.

    python scripts/serve_soak.py                          # 1,000 + 100 bad, then 1 vs 2 workers
    python scripts/serve_soak.py --requests 100 --bad 20 --compare 0   # a quick look (~1 min)

A busy answer (429) is retried after its Retry-After like a well-behaved client would, and counted.
Figures depend on the machine: on a shared CPU they move with whatever else runs.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts._server import local_server  # noqa: E402

KEY = "soak-key-0123456789"
MEGAPIXELS = (1, 2, 4, 8, 12)
SHARE = (0.4, 0.2, 0.2, 0.1, 0.1)  # how often each size is sent: most shop photos are small
RSS_TARGET_MB = 300.0
COMPARE_TARGET = 1.7


# ---------------------------------------------------------------- photos


@dataclass(frozen=True)
class Photo:
    name: str
    data: bytes
    megapixels: int


def make_photos(seed: int, bases: int = 4) -> dict[int, list[Photo]]:
    """Rendered product scenes enlarged to camera sizes, two files (JPEG, and PNG up to 4 MP) per size."""
    import cv2
    from PIL import Image

    from bgapp.lab import synth

    rng = np.random.default_rng(seed)
    scenes = [synth.render_scene(seed + i, (640, 480)).rgb for i in range(bases)]
    photos: dict[int, list[Photo]] = {}
    for mp in MEGAPIXELS:
        width = round((mp * 1e6 * 4 / 3) ** 0.5)
        height = round(width * 3 / 4)
        photos[mp] = []
        for variant in range(2):
            rgb = cv2.resize(scenes[(mp + variant) % bases], (width, height), interpolation=cv2.INTER_CUBIC)
            noise = rng.integers(-3, 4, rgb.shape, dtype=np.int16)  # sensor grain: real file sizes
            rgb = np.clip(rgb.astype(np.int16) + noise, 0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            as_png = variant == 1 and mp <= 4
            Image.fromarray(rgb).save(buffer, format="PNG" if as_png else "JPEG", quality=90, compress_level=1)
            photos[mp].append(Photo(f"shot-{mp}mp-{variant}.{'png' if as_png else 'jpg'}", buffer.getvalue(), mp))
    return photos


def bad_requests(photo: Photo) -> list[tuple[str, int, dict]]:
    """(kind, expected status, requests.post keyword arguments) for each kind of bad request."""
    from PIL import Image

    huge = io.BytesIO()
    Image.new("RGB", (9000, 7000), (230, 230, 230)).save(huge, format="PNG")  # 63 MP in ~100 kB
    key = {"X-Api-Key": KEY}
    return [
        ("not an image", 400, {"headers": key, "files": {"image_file": ("notes.txt", b"not a photo at all" * 50)}}),
        ("no key", 403, {"files": {"image_file": (photo.name, photo.data)}}),
        ("wrong key", 403, {"headers": {"X-Api-Key": "guess"}, "files": {"image_file": (photo.name, photo.data)}}),
        (
            "bad field",
            400,
            {"headers": key, "data": {"size": "huge"}, "files": {"image_file": (photo.name, photo.data)}},
        ),
        ("upload over limit", 413, {"headers": key, "files": {"image_file": ("big.jpg", os.urandom(26_000_000))}}),
        ("body over limit", 413, {"headers": key, "files": {"image_file": ("bigger.jpg", os.urandom(36_000_000))}}),
        ("over 50 MP", 413, {"headers": key, "files": {"image_file": ("huge.png", huge.getvalue())}}),
        ("image_url (off)", 400, {"headers": key, "data": {"image_url": "http://169.254.169.254/latest/"}}),
        (
            "truncated JPEG",
            400,
            {"headers": key, "files": {"image_file": ("cut.jpg", photo.data[: len(photo.data) // 3])}},
        ),
    ]


# ---------------------------------------------------------------- the server


@contextmanager
def server(workers: int, method: str | None, queue: int) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real ``python -m bgapp serve`` on a free loopback port (``scripts._server``), every worker
    answering before the load starts, stopped afterwards."""

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "bgapp",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--api-key",
            KEY,
            "--queue",
            str(queue),
            *(["--method", method] if method else []),
        ]

    with local_server(command, "/health", timeout=180) as (base, process, _):
        deadline = time.monotonic() + 180
        while not all(requests.get(f"{base}/health", timeout=5).ok for _ in range(workers * 2)):
            if time.monotonic() > deadline:
                raise SystemExit("not every worker answered /health within 180 s")
            time.sleep(0.3)
        yield base, process


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and every process below it (uvicorn's workers), MB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


# ---------------------------------------------------------------- the load


@dataclass
class Tally:
    """What the clients saw; guarded by one lock."""

    latencies: list[float] = field(default_factory=list)
    done: int = 0
    ok: int = 0
    busy_retries: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    bad_seen: dict[str, list[int]] = field(default_factory=dict)
    bad_problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1


def good_request(session: requests.Session, base: str, photo: Photo, turn: int) -> requests.Response:
    """One seller's call: mostly remove.bg-style (some on a colour, some cropped), every fifth a ``/cut``."""
    files = {"image_file": (photo.name, photo.data)}
    headers = {"X-Api-Key": KEY}
    if turn % 5 == 4:
        export = ("white", "amazon", "transparent")[turn % 3]
        return session.post(f"{base}/cut", headers=headers, files=files, data={"export": export}, timeout=300)
    data = [
        {"size": "auto"},
        {"size": "auto", "bg_color": "ffffff"},
        {"crop": "true", "crop_margin": "5%"},
        {"size": "hd", "format": "png"},
    ][turn % 4]
    return session.post(f"{base}/v1.0/removebg", headers=headers, files=files, data=data, timeout=300)


def run_load(
    base: str,
    process: subprocess.Popen,
    photos: list[Photo],
    weights: list[float],
    total: int,
    clients: int,
    bad: int,
    seed: int,
    report_every: int = 100,
    quiet: bool = False,
) -> tuple[Tally, list[dict]]:
    """``total`` good requests from ``clients`` threads, ``bad`` bad ones spread over them; a row per ``report_every``."""
    tally = Tally()
    rows: list[dict] = []
    next_index = iter(range(total))
    index_lock = threading.Lock()
    started = time.perf_counter()
    window = {"start": started, "done": 0}
    baseline: dict[str, float] = {}

    def report(done: int) -> None:
        now = time.perf_counter()
        recent = sorted(tally.latencies[-report_every:])
        row = {
            "done": done,
            "p50_s": statistics.median(recent),
            "p95_s": recent[int(0.95 * (len(recent) - 1))],
            "throughput": (done - window["done"]) / (now - window["start"]),
            "errors": dict(tally.errors),
            "busy_retries": tally.busy_retries,
            "rss_mb": tree_rss_mb(process.pid),
        }
        window.update(start=now, done=done)
        rows.append(row)
        if not quiet:
            errors = ", ".join(f"{k} {v}" for k, v in sorted(row["errors"].items())) or "none"
            print(
                f"{done:>5}  p50 {row['p50_s']:.2f} s  p95 {row['p95_s']:.2f} s  {row['throughput']:.2f} req/s  "
                f"429-retries {row['busy_retries']}  errors: {errors}  RSS {row['rss_mb']:.0f} MB",
                flush=True,
            )

    def client(number: int) -> None:
        rng = random.Random(seed * 100 + number)
        session = requests.Session()
        while True:
            with index_lock:
                turn = next(next_index, None)
            if turn is None:
                return
            photo = rng.choices(photos, weights)[0]
            start = time.perf_counter()
            while True:
                try:
                    response = good_request(session, base, photo, turn)
                except requests.RequestException as error:
                    tally.error(f"lost ({type(error).__name__})")
                    session = requests.Session()
                    response = None
                    break
                if response.status_code != 429:
                    break
                with tally.lock:
                    tally.busy_retries += 1
                time.sleep(float(response.headers.get("Retry-After", "1")))
            elapsed = time.perf_counter() - start
            if response is not None and response.status_code != 200:
                tally.error(f"{response.status_code} on a good photo")
            with tally.lock:
                tally.latencies.append(elapsed)
                tally.done += 1
                tally.ok += response is not None and response.status_code == 200
                done = tally.done
                if done == min(50, total):
                    baseline["rss_50"] = tree_rss_mb(process.pid)
                if done % report_every == 0 or done == total:
                    report(done)

    def bad_client() -> None:
        session = requests.Session()
        kinds = bad_requests(photos[0])
        for number in range(bad):
            while tally.done < number * total / max(bad, 1):  # spread over the run
                time.sleep(0.05)
            kind, expected, kwargs = kinds[number % len(kinds)]
            try:
                response = session.post(f"{base}/v1.0/removebg", timeout=120, **kwargs)
            except requests.RequestException as error:
                tally.bad_problems.append(f"{kind}: no answer ({type(error).__name__})")
                session = requests.Session()
                continue
            with tally.lock:
                tally.bad_seen.setdefault(kind, []).append(response.status_code)
            title = ""
            try:
                title = response.json()["errors"][0]["title"]
            except (ValueError, KeyError, IndexError):
                pass
            if response.status_code != expected or not title or "\n" in title:
                tally.bad_problems.append(f"{kind}: {response.status_code} {response.text[:120]!r}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    if bad:
        threads.append(threading.Thread(target=bad_client))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.errors.setdefault("none", 0)
    rows.append({"rss_50": baseline.get("rss_50", float("nan")), "seconds": time.perf_counter() - started})
    return tally, rows


def compare_workers(
    photos: dict[int, list[Photo]], count: int, clients: int, method: str | None, seed: int
) -> dict[int, float]:
    """Throughput (requests/s) with 1 and with 2 worker processes on 1 MP photos, after a warm-up."""
    speeds: dict[int, float] = {}
    for workers in (1, 2):
        with server(workers, method, queue=clients * 2) as (base, process):
            run_load(base, process, photos[1], [1.0, 1.0], clients * 2, clients, 0, seed, quiet=True)  # warm-up
            tally, rows = run_load(base, process, photos[1], [1.0, 1.0], count, clients, 0, seed, quiet=True)
            speeds[workers] = tally.ok / rows[-1]["seconds"]
            print(
                f"{workers} worker(s): {speeds[workers]:.2f} req/s on 1 MP photos "
                f"({tally.ok} of {count} ok, {clients} clients)",
                flush=True,
            )
    return speeds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="good requests (default 1,000)")
    parser.add_argument("--bad", type=int, default=100, help="bad requests spread over the run (default 100)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent good clients (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes for the soak (default 2)")
    parser.add_argument("--queue", type=int, default=16, help="the server's --queue (default 16)")
    parser.add_argument("--method", default=None, help="the server's --method (default: its default)")
    parser.add_argument(
        "--compare",
        type=int,
        default=120,
        metavar="N",
        help="requests per run of the 1 vs 2 worker comparison (0 skips it; default 120)",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    print(
        f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f} "
        f"(shared with other work, figures move with it)",
        flush=True,
    )
    start = time.perf_counter()
    photos = make_photos(args.seed)
    pool = [p for mp in MEGAPIXELS for p in photos[mp]]
    weights = [SHARE[MEGAPIXELS.index(p.megapixels)] / 2 for p in pool]
    sizes = ", ".join(f"{p.name} {len(p.data) / 1e6:.1f} MB" for p in pool)
    print(f"photos ready in {time.perf_counter() - start:.0f} s: {sizes}", flush=True)

    failures: list[str] = []
    print(
        f"\nsoak: {args.requests} requests from {args.clients} clients + {args.bad} bad, "
        f"{args.workers} worker(s), queue {args.queue}",
        flush=True,
    )
    with server(args.workers, args.method, args.queue) as (base, process):
        print(f"server RSS at start: {tree_rss_mb(process.pid):.0f} MB", flush=True)
        tally, rows = run_load(base, process, pool, weights, args.requests, args.clients, args.bad, args.seed)
    summary = rows.pop()
    latencies = sorted(tally.latencies)
    rss_growth = rows[-1]["rss_mb"] - summary["rss_50"]
    print(
        f"\nall {tally.done} good requests: {tally.ok} ok, p50 {statistics.median(latencies):.2f} s, "
        f"p95 {latencies[int(0.95 * (len(latencies) - 1))]:.2f} s, {tally.done / summary['seconds']:.2f} req/s "
        f"over {summary['seconds']:.0f} s; 429 retries {tally.busy_retries}"
    )
    print("bad requests by kind: " + "; ".join(f"{k}: {sorted(set(v))} x{len(v)}" for k, v in tally.bad_seen.items()))
    print(
        f"RSS after the first 50: {summary['rss_50']:.0f} MB, at the end: {rows[-1]['rss_mb']:.0f} MB "
        f"({rss_growth:+.0f} MB)"
    )

    real_errors = {k: v for k, v in tally.errors.items() if k != "none" and v}
    server_errors = sum(v for k, v in real_errors.items() if k.startswith(("5", "lost")))
    checks = [
        (
            f"RSS growth after the first 50 <= {RSS_TARGET_MB:.0f} MB",
            rss_growth <= RSS_TARGET_MB,
            f"{rss_growth:+.0f} MB",
        ),
        (
            "no request lost or answered 5xx",
            server_errors == 0 and tally.ok == tally.done,
            f"{tally.ok}/{tally.done} ok; errors {real_errors or 'none'}",
        ),
        (
            "every bad input a 4xx with a one-line reason",
            not tally.bad_problems and args.bad == sum(map(len, tally.bad_seen.values())),
            "; ".join(tally.bad_problems[:3]) or f"{args.bad} of {args.bad}",
        ),
    ]
    if args.compare:
        print(
            f"\nthroughput, 1 vs 2 worker processes ({args.compare} requests of 1 MP each, {args.clients} clients):",
            flush=True,
        )
        speeds = compare_workers(photos, args.compare, args.clients, args.method, args.seed)
        ratio = speeds[2] / speeds[1]
        checks.append(
            (
                f"2 workers >= {COMPARE_TARGET}x 1 worker on {os.cpu_count()} cores",
                ratio >= COMPARE_TARGET,
                f"{ratio:.2f}x",
            )
        )
    print("\ntargets:")
    for name, passed, value in checks:
        print(f"  [{'met' if passed else 'MISSED'}] {name}: {value}")
        if not passed:
            failures.append(name)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
