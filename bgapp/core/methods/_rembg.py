"""rembg's U^2-Net models (``core/external.py``: u2net, u2netp) as methods: their input and output
as declared there. They go through the same pipeline as ours (clean-up off, refinement on)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from bgapp.core.errors import ModelUnavailableError
from bgapp.core.methods import Method
from bgapp.core.params import Param, ParamValue, cutoff_param
from bgapp.core.runtime import OnnxSession

SIDE = 320
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def session(path: str, threads: int = 0) -> OnnxSession:
    """The ONNX Runtime session for one U^2-Net file: ``threads`` (or ``BGAPP_THREADS``, else every)
    cores, a GPU when ONNX Runtime has one (as ``core/runtime.py``). One per file and thread count: a
    second copy of a 176 MB network costs 0.6 s and its memory (``prepare`` and ``raw`` share this one)."""
    from bgapp.core.runtime import THREADS_ENV

    return _session(path, threads or int(os.environ.get(THREADS_ENV, "0") or 0))


@lru_cache(maxsize=4)
def _session(path: str, threads: int) -> OnnxSession:
    from bgapp.core.runtime import new_session

    return new_session(path, threads, arena=False, needs="U^2-Net")


def u2net_input(rgb: np.ndarray, side: int = SIDE) -> np.ndarray:
    """rembg's preprocessing, the one copy (the methods, the baselines and distillation's teachers use
    it): squashed to side x side, divided by the image's maximum, ImageNet mean/std, 1x3xHxW float32."""
    small = cv2.resize(
        rgb, (side, side), interpolation=cv2.INTER_AREA if min(rgb.shape[:2]) > side else cv2.INTER_LINEAR
    )
    x = small.astype(np.float32) / max(float(small.max()), 1e-6)
    return ((x - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)


def raw(path: Path, rgb: np.ndarray, threads: int = 0) -> np.ndarray:
    """Channel 0 of the first output (side x side float32, the network's own 0..1 sigmoid) for ``rgb``;
    the side is the file's input side (320 when it is not fixed)."""
    run = session(str(path), threads)
    shape = run.get_inputs()[0].shape
    side = shape[2] if isinstance(shape[2], int) and shape[2] > 0 else SIDE
    return run.run(None, {run.get_inputs()[0].name: u2net_input(rgb, side)})[0][0, 0].astype(np.float32)


def min_max(saliency: np.ndarray) -> np.ndarray:
    """rembg's normalisation of an answer: its lowest value to 0, its highest to 1."""
    low, high = float(saliency.min()), float(saliency.max())
    return (saliency - low) / max(high - low, 1e-6)


def saliency(rgb: np.ndarray, path: Path) -> np.ndarray:
    """The network's answer for ``rgb`` as a 0..1 map of the input's size (``external.U2NET_INPUT/OUTPUT``)."""
    out = min_max(raw(path, rgb))
    return cv2.resize(out.astype(np.float32), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)


PARAMS = (
    Param(
        "soft",
        "bool",
        True,
        label="Soft mask",
        expert=True,
        help="Use the network's saliency itself as the mask (soft where it is unsure, as rembg does) "
        "instead of cutting it at the threshold.",
    ),
    cutoff_param("the saliency", "the saliency", advice=False),
)


def rembg_method(
    name: str, summary: str, where: Callable[[], Path | None], unavailable: Callable[[], str | None], rank: int = 0
) -> Method:
    """A U^2-Net file as a ``Method``: ``where`` finds the file, ``unavailable`` says why it cannot run."""

    def segment(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
        path = where()
        if path is None:
            raise ModelUnavailableError(f"{name} cannot run: {unavailable()}")
        alpha = saliency(rgb, path)
        return alpha if params["soft"] else (alpha > float(params["threshold"])).astype(np.float32)

    def prepare(params: Mapping[str, ParamValue]) -> OnnxSession | None:
        path = where()
        return None if path is None else session(str(path))

    return Method(
        name=name,
        summary=summary,
        params=PARAMS,
        segment=segment,
        family="deep",
        cleanup_defaults={"open_size": 1, "close_size": 1, "min_area": 0.0},
        available=unavailable,
        prepare=prepare,
        rank=rank,
    )


def registry_method(name: str, summary: str, rank: int = 0) -> Method:
    """A U^2-Net entry of ``core/external.py`` as a method: available once ``models fetch NAME`` has run."""
    from bgapp.core import external

    def where() -> Path | None:
        found = external.locate(name)
        return None if found is None else next(iter(found.values()))

    return rembg_method(name, summary, where, lambda: external.missing(name), rank)
