"""Baselines the benchmark compares with: rembg's U^2-Net models, what most sellers' tools run today.

Both are entries of the registry of networks that are not ours (``core/external.py``: files,
hashes, where they are looked for, ``models fetch``), run by ``core/methods/_rembg.py``, which holds
the one copy of their preprocessing (``u2net_input``; distillation's teachers, ``lab/teachers.py``,
use it too): ``u2netp`` (4.7 MB, the small one; a baseline only) and ``u2net`` (176 MB, the full
one; also a method a seller can pick once fetched). They go through the same pipeline (clean-up
off, refinement on) and the same metrics as every method. ``--u2netp FILE`` / ``--u2net FILE`` in
``bench`` point a row at another file.
"""

from __future__ import annotations

import os
from pathlib import Path

from bgapp.core import external
from bgapp.core.methods import Method
from bgapp.core.methods._rembg import SIDE as U2NET_SIDE  # noqa: F401 - the input side both were trained at
from bgapp.core.methods._rembg import min_max, raw, rembg_method, saliency, session, u2net_input  # noqa: F401

MODEL_CACHE = Path.home() / ".cache" / "bgapp" / "models"
OLD_U2NET = Path.home() / ".cache" / "bgapp" / "u2net.onnx"  # where earlier sessions put it: still read
U2NET_FETCH = external.get("u2net").how_to_get()


def u2netp_path() -> Path:
    """``BGAPP_U2NETP`` if set, else where the registry finds u2netp (the cache, ../shared)."""
    return _path("u2netp")


def u2net_path() -> Path:
    """``BGAPP_U2NET`` if set, else where the registry finds u2net (``models fetch u2net`` puts it in
    the cache; ~/.cache/bgapp/models/u2net.onnx and ~/.cache/bgapp/u2net.onnx, where earlier fetches
    left it, are still read), else the cache path it would have."""
    return _path("u2net")


def _path(name: str) -> Path:
    model = external.get(name)
    if model.env and os.environ.get(model.env):
        return Path(os.environ[model.env])  # named explicitly: used, or reported missing, as it is
    found = external.locate(name)
    return next(iter(found.values())) if found else external.cache_dir() / name / f"{name}.onnx"


def _session(path: str, threads: int = 0):
    """An ONNX Runtime session for a U^2-Net file (``core/methods/_rembg.session``)."""
    return session(path, threads)


def u2net_raw(path: Path, rgb, threads: int = 0):
    """Channel 0 of the first output at the file's input side (``core/methods/_rembg.raw``)."""
    return raw(Path(path), rgb, threads)


def u2net_saliency(rgb, path: Path):
    """rembg's u2net / u2netp answer (whichever ``path`` holds) for ``rgb`` as a 0..1 map of the input's size."""
    return saliency(rgb, Path(path))


def _file_method(name: str, path: Path, summary: str) -> Method:
    path = Path(path)

    def unavailable() -> str | None:
        if not path.exists():
            return f"{path} not found (fetch it: {external.get(name).how_to_get()})"
        return external.missing(name) if external.locate(name) else None

    return rembg_method(name, summary, lambda: path if path.exists() else None, unavailable)


def u2netp_method(path: Path | None = None) -> Method:
    """rembg's u2netp (4.7 MB), the baseline most free tools ship."""
    return _file_method("u2netp", path or u2netp_path(), "rembg's u2netp (U^2-Net small, 4.7 MB), the baseline")


def u2net_method(path: Path | None = None) -> Method:
    """rembg's full u2net (176 MB), the stronger baseline."""
    return _file_method("u2net", path or u2net_path(), "rembg's u2net (U^2-Net full, 176 MB), the stronger baseline")
