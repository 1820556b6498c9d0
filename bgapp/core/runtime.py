"""Inference with shipped networks on ONNX Runtime: no TensorFlow at run time.

``import tensorflow`` and building the Keras model cost 6-8 s and a screenful of log lines before a
seller's first photo; ONNX Runtime loads the same network (``NAME.onnx``, written by ``train`` and
``export-onnx``: ``lab/onnx_export.py``, equal to the Keras output within 1e-5, tested) in a fraction
of a second and prints nothing. It runs on a GPU where ONNX Runtime has one (the onnxruntime-gpu
build), else on the CPU; ``Predictor.device`` says which, for the app to show. TensorFlow is for
training only (``lab/``). Predictors are cached per (model, input size, folder), so moving a slider
in the app never reloads a network.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bgapp.core.errors import ModelUnavailableError
from bgapp.core.models import model_files

# An ``onnxruntime.InferenceSession``: ONNX Runtime ships no type information, so this names what is meant
OnnxSession = Any


def on_square(rgb: np.ndarray, size: int, look: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``look`` (a float32 (size, size, 3) square -> per-pixel answers) on ``rgb`` squashed to the
    network's square, its answer brought back to the photo's size."""
    height, width = rgb.shape[:2]
    shrink = cv2.INTER_AREA if min(height, width) > size else cv2.INTER_LINEAR
    square = cv2.resize(rgb, (size, size), interpolation=shrink).astype(np.float32)
    return cv2.resize(look(square), (width, height), interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class Predictor:
    """A loaded model at one input size: RGB uint8 of any size in, class probabilities out."""

    name: str
    size: int
    run: Callable[[np.ndarray], np.ndarray]
    device: str = "CPU"  # what runs it, in words the app shows: "CPU" or "GPU (CUDA)"

    def probabilities(self, rgb: np.ndarray, mirror: bool = False) -> np.ndarray:
        """(H, W, 3) float32 probabilities of object, background, border at the photo's own size.

        ``mirror``: also run the left-right mirrored photo and average the two answers (twice the
        network's time; a network's mistakes are not symmetric, so the average is steadier)."""

        def look(square: np.ndarray) -> np.ndarray:
            probs = self.run(square[None])[0]
            if mirror:
                probs = 0.5 * (probs + self.run(np.ascontiguousarray(square[:, ::-1])[None])[0][:, ::-1])
            return probs

        return on_square(rgb, self.size, look)


def predictor_unavailable(name: str, folder: Path | None = None) -> str | None:
    """Why model ``name`` cannot run here (no ``NAME.onnx``, or no onnxruntime), or None when it can."""
    files = model_files(name, folder)
    if not files["onnx"].exists():
        if files["weights"].exists():
            return f"no {files['onnx'].name} beside {files['weights'].name}: run python -m bgapp export-onnx --model {name}"
        return f"no weights file {files['onnx'].name}; train it with python -m bgapp train"
    if importlib.util.find_spec("onnxruntime") is None:
        return "needs onnxruntime: pip install -r requirements.txt"
    return None


THREADS_ENV = "BGAPP_THREADS"
"""Threads a network may use in this process (unset: all cores). ``serve --workers N`` and ``batch``
set it so that N processes do not each start a thread per core and fight over them."""


def share_cores(workers: int) -> int:
    """Cap this process's network and OpenCV threads to its share of the cores among ``workers``
    processes; returns the share (nothing is capped for one worker)."""
    if workers <= 1:
        return 0
    import cv2

    threads = max(1, (os.cpu_count() or 1) // workers)
    os.environ[THREADS_ENV] = str(threads)
    cv2.setNumThreads(threads)
    return threads


def new_session(path: str, threads: int = 0, arena: bool = True, needs: str = "these networks") -> OnnxSession:
    """An ONNX Runtime session for the file ``path``, the one place every network's session is made:
    errors only on the terminal, ``threads`` (or ``BGAPP_THREADS``, else every) cores, a GPU where ONNX
    Runtime has one. ``arena=False`` for the big networks that are not ours: ONNX Runtime's arena keeps
    every buffer of a run for the next, ~300 MB held for good by u2net (a 12 MP cut-out peaked at 1.08 GB
    with it, 0.78 GB without, at the same speed)."""
    try:
        import onnxruntime
    except ImportError as error:
        raise ModelUnavailableError(f"{needs} need onnxruntime: pip install -r requirements.txt") from error
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: nothing on a seller's terminal
    options.enable_cpu_mem_arena = arena
    threads = threads or int(os.environ.get(THREADS_ENV, "0") or 0)
    if threads > 0:  # one of several worker processes: its share of the cores, not all of them each
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    providers = [
        p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in onnxruntime.get_available_providers()
    ]
    return onnxruntime.InferenceSession(path, options, providers=providers)


def device_of(session: OnnxSession) -> str:
    """What runs a session, in words the app shows: "GPU (CUDA)" or "CPU"."""
    return "GPU (CUDA)" if session.get_providers()[0] == "CUDAExecutionProvider" else "CPU"


def _session(name: str, where: Path | None) -> tuple[OnnxSession, str]:
    """An ONNX Runtime session for model ``name`` and what runs it, in words ("CPU" or "GPU (CUDA)")."""
    missing = predictor_unavailable(name, where)
    if missing:
        raise ModelUnavailableError(f"{name} cannot run: {missing}")
    session = new_session(str(model_files(name, where)["onnx"]))
    return session, device_of(session)


@lru_cache(maxsize=8)
def predictor(name: str, size: int, folder: str | None = None) -> Predictor:
    """The cached predictor for model ``name`` at input ``size`` (files from the weights folder)."""
    session, device = _session(name, Path(folder) if folder else None)

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {"rgb": np.ascontiguousarray(batch, np.float32)})[0]

    run(np.zeros((1, size, size, 3), np.float32))  # warm up now, not on the user's first photo
    return Predictor(name, size, run, device)


@dataclass(frozen=True)
class GuidedPredictor:
    """A click network at one input size: RGB and guide maps in, class probabilities out."""

    name: str
    size: int
    channels: int
    run: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def probabilities(self, rgb: np.ndarray, guide: np.ndarray) -> np.ndarray:
        """(H, W, 3) probabilities at the photo's size; ``guide`` is (size, size, channels), already
        drawn at the network's input size (clicks are drawn there so a dot keeps its size)."""
        return on_square(rgb, self.size, lambda square: self.run(square[None], guide[None].astype(np.float32))[0])


@lru_cache(maxsize=4)
def guided_predictor(name: str, size: int, channels: int, folder: str | None = None) -> GuidedPredictor:
    """The cached click network ``name`` at input ``size`` with ``channels`` guide maps."""
    session, _ = _session(name, Path(folder) if folder else None)

    def run(batch: np.ndarray, guide: np.ndarray) -> np.ndarray:
        return session.run(
            None, {"rgb": np.ascontiguousarray(batch, np.float32), "guide": np.ascontiguousarray(guide, np.float32)}
        )[0]

    run(np.zeros((1, size, size, 3), np.float32), np.zeros((1, size, size, channels), np.float32))
    return GuidedPredictor(name, size, channels, run)
