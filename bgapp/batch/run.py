"""The Ray Data plan of a batch and the driver loop that journals each photo as it finishes.

    from_items(tasks) -> read + decode (tasks) -> method + clean-up + refine (actor pool: the
    network is loaded once per worker) -> frame + encode + atomic write (tasks) -> driver: journal

Every stage catches a photo's own failure (``BgappError``: not an image, truncated, too many
megapixels, ...; or anything unexpected) and passes it on as that row's error, so one bad file
never stops the run. Ray is imported inside ``execute`` only: ``import bgapp.batch.run`` alone
costs nothing and ``cut``, the app and the core never import Ray (tested).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bgapp.batch.plan import Task, is_uri

EMPTY = b""


@dataclass(frozen=True)
class BatchSpec:
    """What every worker needs to cut a photo exactly as ``cut`` would (plain data: it is pickled)."""

    out_dir: str
    method: str
    settings: dict[str, Any]
    export: dict[str, Any]
    mask: bool
    max_megapixels: float
    replace: bool
    threads: int = 0  # OpenCV threads per worker (0: OpenCV's default)


@dataclass(frozen=True)
class Cluster:
    """Where to run: an embedded local Ray (``address`` None) or an existing cluster. ``workers`` and
    ``gpus_per_worker`` None mean: decide from what the running Ray has (``default_workers``,
    ``choose_gpus``)."""

    workers: int | None = None
    gpus_per_worker: float | None = None
    address: str | None = None
    object_store_mb: int = 400


def choose_gpus(requested: float | None, available: float, deep: bool) -> float:
    """GPUs per worker: what was asked, or one where a GPU exists and the method is a network
    (classical methods run on OpenCV, on the CPU). Asking for more than exists is refused: Ray would
    otherwise wait for it forever."""
    from bgapp.core.errors import BgappError

    if requested is None:
        return 1.0 if deep and available >= 1 else 0.0
    if requested > available:
        raise BgappError(
            f"--gpus-per-worker {requested:g} but Ray sees {available:g} GPU(s) here; "
            "use --gpus-per-worker 0 for the CPU"
        )
    return requested


def default_workers(cpus: float, gpus: float, gpus_per_worker: float, local: bool) -> int:
    """One worker per GPU share when on GPUs; otherwise one per core here (Ray gets one extra slot
    for the read and encode tasks), or three quarters of a cluster's CPUs (the rest read and encode)."""
    if gpus_per_worker > 0:
        return max(1, int(gpus // gpus_per_worker))
    if local:
        return max(1, os.cpu_count() or 1)
    return max(1, int(cpus * 3 // 4))


# --- the three stages (module-level, so Ray pickles them by reference) -------------------------------


def _failure(key: str, error: BaseException) -> str:
    """The one-line reason a photo failed: the loader's own words, or the unexpected error's first line."""
    from bgapp.core.errors import BgappError

    text = (str(error).strip().splitlines() or [""])[0]
    if isinstance(error, BgappError):
        return text
    return f"{key}: unexpected failure ({type(error).__name__}: {text})"


def _read(source: str, key: str, limit: float):
    """Decode one input exactly as ``cut`` does (``load_image``); remote files are read through pyarrow."""
    from bgapp.core.errors import ImageLoadError
    from bgapp.core.images import load_image

    if not is_uri(source):
        return load_image(source, name=key, max_megapixels=limit)
    from pyarrow import fs

    try:
        filesystem, path = fs.FileSystem.from_uri(source)
        with filesystem.open_input_stream(path) as stream:
            data = stream.read()
    except (OSError, ValueError) as error:
        raise ImageLoadError(f"{key}: cannot be read ({(str(error).splitlines() or [''])[0]})") from None
    return load_image(data, name=key, max_megapixels=limit)


def read_decode(batch: Any, spec: BatchSpec) -> Any:
    """Task stage 1: read and decode each photo into raw RGB (+ alpha) bytes, or record why not."""
    import pandas as pd

    rows = []
    for row in batch.to_dict("records"):
        start = time.perf_counter()
        out = {**row, "error": "", "rgb": EMPTY, "alpha": EMPTY, "height": 0, "width": 0, "ms": 0.0}
        try:
            image = _read(row["source"], row["key"], spec.max_megapixels)
            out.update(
                rgb=image.rgb.tobytes(),
                height=image.rgb.shape[0],
                width=image.rgb.shape[1],
                alpha=EMPTY if image.alpha is None else image.alpha.astype(np.float32).tobytes(),
            )
        except Exception as error:  # noqa: BLE001 - a bad photo is a row's error, never the run's end
            out["error"] = _failure(row["key"], error)
        out["ms"] = (time.perf_counter() - start) * 1000.0
        rows.append(out)
    return pd.DataFrame(rows)


class CutWorker:
    """Actor stage 2: the method, clean-up and refinement. Settings are resolved and the network
    loaded once, in ``__init__``, then reused for every photo this worker gets."""

    spec: BatchSpec  # set on a subclass per run (``execute``)

    def __init__(self) -> None:
        _quiet_worker(self.spec.threads)
        from bgapp.core.pipeline import resolve_settings

        self.settings = resolve_settings(self.spec.method, self.spec.settings)
        self.settings.method.prepare(self.settings.method_params)

    def __call__(self, batch: Any) -> Any:
        import pandas as pd

        from bgapp.core.images import LoadedImage
        from bgapp.core.pipeline import cut_out

        rows = []
        for row in batch.to_dict("records"):
            start = time.perf_counter()
            out = {**row, "rgb": EMPTY, "alpha": EMPTY, "colours": EMPTY, "ran": ""}
            if not row["error"]:
                try:
                    shape = (int(row["height"]), int(row["width"]))
                    rgb = np.frombuffer(row["rgb"], np.uint8).reshape(*shape, 3)
                    alpha = np.frombuffer(row["alpha"], np.float32).reshape(shape) if row["alpha"] else None
                    cutout = cut_out(LoadedImage(rgb=rgb, alpha=alpha, name=row["key"], mode="RGB"), self.settings)
                    out.update(
                        alpha=np.ascontiguousarray(cutout.alpha, np.float32).tobytes(),
                        colours=np.ascontiguousarray(cutout.colours, np.uint8).tobytes(),
                        ran=cutout.ran,
                    )
                except Exception as error:  # noqa: BLE001
                    out["error"] = _failure(row["key"], error)
            out["ms"] = float(row["ms"]) + (time.perf_counter() - start) * 1000.0
            rows.append(out)
        return pd.DataFrame(rows)


def encode_write(batch: Any, spec: BatchSpec) -> Any:
    """Task stage 3: frame, encode and write each result atomically (never over its input)."""
    import pandas as pd

    from bgapp.core.images import write_new_file
    from bgapp.core.pipeline import Cutout, finish

    rows = []
    for row in batch.to_dict("records"):
        start = time.perf_counter()
        error, size = str(row["error"]), 0
        if not error:
            try:
                shape = (int(row["height"]), int(row["width"]))
                alpha = np.frombuffer(row["alpha"], np.float32).reshape(shape)
                colours = np.frombuffer(row["colours"], np.uint8).reshape(*shape, 3)
                result = finish(Cutout(alpha=alpha, colours=colours), spec.export, mask=spec.mask)
                target = Path(spec.out_dir) / row["output"]
                protected = frozenset() if is_uri(row["source"]) else frozenset({Path(row["source"]).resolve()})
                write_new_file(target, result.data, overwrite=spec.replace, protected=protected)
                size = len(result.data)
            except Exception as error_:  # noqa: BLE001
                error = _failure(row["key"], error_)
        rows.append(
            {
                "key": row["key"],
                "source": row["source"],
                "output": row["output"],
                "status": "failed" if error else "ok",
                "error": error,
                "bytes": size,
                "ran": str(row.get("ran", "") or ""),
                "ms": float(row["ms"]) + (time.perf_counter() - start) * 1000.0,
            }
        )
    return pd.DataFrame(rows)


def _quiet_worker(threads: int) -> None:
    """A worker shares the machine with the others: cap OpenCV's and the network's threads to its share."""
    if threads > 0:
        import os

        import cv2

        from bgapp.core.runtime import THREADS_ENV

        cv2.setNumThreads(threads)
        os.environ[THREADS_ENV] = str(threads)  # and ONNX Runtime's, for networks loaded after this


# --- the driver ------------------------------------------------------------------------------------


def project_root() -> Path:
    """The folder that holds the ``bgapp`` package (added to the workers' import path)."""
    return Path(__file__).resolve().parents[2]


def _start_ray(cluster: Cluster) -> None:
    """An embedded local Ray sized for this machine (no dashboard, workers' logs not echoed), or a
    connection to an existing cluster, which gets this checkout's code and weights as its working dir."""
    import ray

    debug = bool(os.environ.get("BGAPP_DEBUG"))
    if not debug:
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # Ray's C++ warnings are not the seller's business
    common: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": debug,
        "configure_logging": True,
        "logging_level": logging.INFO if debug else logging.ERROR,
    }
    with _stderr_silenced(not debug):
        if cluster.address:
            excludes = [".git", "results", "docs", "tests", "scripts", "*.npz", "*.history.json", "__pycache__"]
            ray.init(
                address=cluster.address,
                runtime_env={"working_dir": str(project_root()), "excludes": excludes},
                **common,
            )
        else:
            _start_local(ray, cluster, common)


@contextlib.contextmanager
def _stderr_silenced(active: bool) -> Iterator[None]:
    """Ray's C++ core prints a start-up line on file descriptor 2 itself; hide it (errors still raise)."""
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _start_local(ray: Any, cluster: Cluster, common: dict[str, Any]) -> None:
    """A new local Ray (never one a ``ray start`` left running) with one CPU slot per worker plus one
    for the read and encode tasks, a small object store (decoded photos pass through it one at a
    time), and this checkout on the workers' path."""
    root = str(project_root())
    path = os.environ.get("PYTHONPATH", "")
    if root not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, path) if p)  # the workers import bgapp
    workers = cluster.workers or default_workers(0, 0, 0, local=True)
    cpus = max(os.cpu_count() or 1, workers + 1)  # one slot beyond the actors for read/encode tasks
    ray.init(address="local", num_cpus=cpus, object_store_memory=cluster.object_store_mb * 1024 * 1024, **common)


def _quiet_ray_data() -> None:
    """Ray Data's own start lines and progress bars off: ``batch`` prints one progress line of its own."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
    for name in ("ray", "ray.data", "ray.data._internal", "ray._private"):
        logging.getLogger(name).setLevel(logging.ERROR)


def execute(
    tasks: Sequence[Task],
    spec: BatchSpec,
    cluster: Cluster,
    deep: bool,
    on_start: Callable[[int, float, str], None] | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Run ``tasks`` through the Ray Data plan and yield each finished row (key, status, error, bytes,
    ms) as soon as the driver receives it. Starts Ray unless it is already running (tests share one
    session), and shuts down only what it started. ``on_start(workers, gpus_per_worker, where)``
    is called once the pool's size is known."""
    import ray

    started = not ray.is_initialized()
    if started:
        _start_ray(cluster)
    try:
        _quiet_ray_data()
        import ray.data

        resources = ray.cluster_resources()
        local = cluster.address is None
        gpus = choose_gpus(cluster.gpus_per_worker, float(resources.get("GPU", 0.0)), deep)
        workers = cluster.workers or default_workers(
            float(resources.get("CPU", 1.0)), float(resources.get("GPU", 0.0)), gpus, local
        )
        if local and not spec.threads:
            spec = replace(spec, threads=max(1, (os.cpu_count() or 1) // workers))
        if on_start is not None:
            on_start(workers, gpus, "local Ray" if local else f"Ray cluster {cluster.address}")
        per_block = 1 if len(tasks) <= 10_000 else -(-len(tasks) // 10_000)  # <= 10k blocks in flight
        items = [{"key": t.key, "source": t.source, "output": t.output} for t in tasks]
        dataset: ray.data.Dataset = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // per_block)))
        # Ray's stubs type a batch function with one argument; fn_kwargs gives these their second (spec)
        dataset = dataset.map_batches(
            read_decode,  # type: ignore[arg-type]
            fn_kwargs={"spec": spec},
            batch_size=1,
            batch_format="pandas",
            num_cpus=0.5,
        )
        worker = type("CutWorker", (CutWorker,), {"spec": spec})  # settings ride on the class: no constructor args
        dataset = dataset.map_batches(
            worker,
            batch_size=1,
            batch_format="pandas",
            num_cpus=1,
            num_gpus=gpus or None,
            compute=ray.data.ActorPoolStrategy(size=workers),
        )
        dataset = dataset.map_batches(
            encode_write,  # type: ignore[arg-type]
            fn_kwargs={"spec": spec},
            batch_size=1,
            batch_format="pandas",
            num_cpus=0.5,
        )
        for frame in dataset.iter_batches(batch_size=None, batch_format="pandas", prefetch_batches=0):
            yield from frame.to_dict("records")  # type: ignore[union-attr]  # pandas asked for, a DataFrame given
    finally:
        if started:
            ray.shutdown()


class Progress:
    """One progress line on stderr: count, percentage, photos/s and ETA (redrawn in place on a
    terminal; a line every few seconds elsewhere, so a log file stays readable)."""

    def __init__(self, total: int, stream: Any = None, every_s: float = 5.0) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self.first: float | None = None  # rate counts from the first result, not Ray's start-up
        self.every_s, self.last = every_s, 0.0
        self.latest = self.start

    def update(self, failed: bool) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.done += 1
        self.failed += int(failed)
        self.latest = now
        if self.tty or now - self.last >= self.every_s or self.done == self.total:
            self.last = now
            self.stream.write(("\r" if self.tty else "") + self.line(now) + ("" if self.tty else "\n"))
            self.stream.flush()

    def rate(self, now: float | None = None) -> float:
        """Photos per second from the first photo's end to the latest one's (0 until two have)."""
        now = self.latest if now is None else now
        if self.first is None or self.done < 2 or now <= self.first:
            return 0.0
        return (self.done - 1) / (now - self.first)

    def line(self, now: float) -> str:
        rate = self.rate(now)
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta = "--:--" if math.isnan(left) else f"{int(left // 60):d}:{int(left % 60):02d}"
        width = len(str(self.total))
        bar = "#" * int(20 * self.done / max(self.total, 1))
        failed = f", {self.failed} failed" if self.failed else ""
        return (
            f"[{bar:<20}] {self.done:>{width}}/{self.total} {100 * self.done / max(self.total, 1):3.0f}% "
            f"{rate:.2f} photos/s ETA {eta}{failed}"
        )

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()


__all__ = [
    "BatchSpec",
    "Cluster",
    "CutWorker",
    "Progress",
    "choose_gpus",
    "default_workers",
    "encode_write",
    "execute",
    "read_decode",
]
