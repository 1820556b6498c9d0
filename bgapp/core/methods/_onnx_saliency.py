"""The 1024 px networks that are not ours (``core/external.py``: isnet-general-use, birefnet-general,
birefnet-general-lite) as methods, each fed and read exactly as its publisher's inference code does.

What each publisher does, and where it is written (docs/models.md has the same with the links):
- IS-Net (DIS, ``IS-Net/Inference.py``): the photo resized to 1024x1024 bilinearly and cast back to
  8 bits, divided by 255, normalised with mean 0.5 and std 1.0; the first output's first map (the
  network's own sigmoid) resized to the photo bilinearly and min-max normalised.
- BiRefNet (``inference.py``, its ``dataset.py`` transforms, ``cpp/py/pth2onnx.py`` for the ONNX
  file's names): the photo resized to 1024x1024 by PIL (bilinear), divided by 255, ImageNet
  mean/std; the LAST output (logits) through a sigmoid, resized bilinearly with aligned corners; no
  min-max (rembg adds one; the publisher does not).
rembg's own sessions differ in small ways (they divide by the image's maximum, not 255; IS-Net with
ImageNet's mean instead of 0.5; min-max after BiRefNet's sigmoid): we follow the networks' authors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from bgapp.core.errors import ModelUnavailableError
from bgapp.core.methods import Method
from bgapp.core.methods._rembg import PARAMS
from bgapp.core.params import ParamValue

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Decoding:
    """How one publisher feeds its network and reads its answer (the module's docstring gives each)."""

    side: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: Literal["torch-bilinear-uint8", "pil-bilinear"]  # how the photo becomes the side x side square
    output: int  # which output: 0 the first, -1 the last
    sigmoid: bool  # the output is logits
    min_max: bool  # stretch the answer to 0..1
    align_corners: bool  # the answer's resize back to the photo


ISNET = Decoding(1024, (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), "torch-bilinear-uint8", 0, False, True, False)
BIREFNET = Decoding(1024, IMAGENET_MEAN, IMAGENET_STD, "pil-bilinear", -1, True, False, True)


def square(rgb: np.ndarray, decoding: Decoding) -> np.ndarray:
    """The photo as the network's side x side float square in 0..255, resized as the publisher does."""
    side = decoding.side
    if decoding.resize == "pil-bilinear":
        from PIL import Image

        return np.asarray(Image.fromarray(rgb).resize((side, side), Image.Resampling.BILINEAR), np.float32)
    # torch's F.upsample(mode="bilinear") (half-pixel centres, no antialiasing), then .type(torch.uint8)
    return np.floor(cv2.resize(rgb.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR))


def network_input(rgb: np.ndarray, decoding: Decoding) -> np.ndarray:
    """1x3xSxS float32: the resized photo divided by 255, minus the mean, over the std."""
    x = square(rgb, decoding) / 255.0
    x = (x - np.array(decoding.mean, np.float32)) / np.array(decoding.std, np.float32)
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def _taps(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output position: the two input pixels either side and the weight of the second, with
    aligned corners (output i samples input i * (in - 1) / (out - 1))."""
    where = np.linspace(0.0, size_in - 1.0, size_out)
    low = np.floor(where).astype(np.intp)
    return low, np.minimum(low + 1, size_in - 1), (where - low).astype(np.float32)


def resize_aligned(answer: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize with aligned corners, as torch's ``interpolate(..., align_corners=True)``: exact
    float weights, one axis then the other (OpenCV's warps round positions to 1/32 of a pixel)."""
    x_low, x_high, x_weight = _taps(answer.shape[1], width)
    rows = answer[:, x_low] * (1.0 - x_weight) + answer[:, x_high] * x_weight
    y_low, y_high, y_weight = _taps(answer.shape[0], height)
    y_weight = y_weight[:, None]
    return (rows[y_low] * (1.0 - y_weight) + rows[y_high] * y_weight).astype(np.float32)


def decode(outputs: list[np.ndarray], decoding: Decoding, width: int, height: int) -> np.ndarray:
    """The chosen output's first map as a 0..1 float32 map of the photo's size."""
    answer = np.asarray(outputs[decoding.output], np.float32)[0, 0]
    if decoding.sigmoid:
        answer = 1.0 / (1.0 + np.exp(-answer))
    if decoding.align_corners:
        answer = resize_aligned(answer, width, height)
    else:
        answer = cv2.resize(answer, (width, height), interpolation=cv2.INTER_LINEAR)
    if decoding.min_max:
        low, high = float(answer.min()), float(answer.max())
        answer = (answer - low) / max(high - low, 1e-6)
    return np.clip(answer, 0.0, 1.0).astype(np.float32)


@lru_cache(maxsize=2)  # two 1024 px networks at most in memory (birefnet-general alone is ~1 GB)
def session(path: str) -> Any:
    """One ONNX Runtime session per file, whoever asks (``prepare`` and ``segment`` share it): a GPU
    where ONNX Runtime has one, else ``BGAPP_THREADS`` (or all) cores."""
    from bgapp.core.runtime import new_session

    return new_session(path, arena=False)


def device_of(run: Any) -> str:
    """What runs a session, in ``runtime.Predictor.device``'s words: "GPU (CUDA)" or "CPU"."""
    from bgapp.core import runtime

    return runtime.device_of(run)


@dataclass(frozen=True)
class Loaded:
    """What ``prepare`` hands back: the session, and what runs it for the studio's caption ("network on the CPU")."""

    session: Any
    device: str


def saliency(rgb: np.ndarray, path: Path, decoding: Decoding) -> np.ndarray:
    """The network's 0..1 answer for ``rgb`` at the photo's size."""
    run = session(str(path))
    outputs = run.run(None, {run.get_inputs()[0].name: network_input(rgb, decoding)})
    return decode(outputs, decoding, rgb.shape[1], rgb.shape[0])


def saliency_method(name: str, summary: str, decoding: Decoding, rank: int) -> Method:
    """An https entry of ``core/external.py`` as a method: available once ``models fetch NAME`` has run."""
    from bgapp.core import external

    def where() -> Path | None:
        found = external.locate(name)
        return None if found is None else next(iter(found.values()))

    def segment(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
        path = where()
        if path is None:
            raise ModelUnavailableError(f"{name} cannot run: {external.missing(name)}")
        alpha = saliency(rgb, path, decoding)
        return alpha if params["soft"] else (alpha > float(params["threshold"])).astype(np.float32)

    def prepare(params: Mapping[str, ParamValue]) -> Loaded | None:
        path = where()
        if path is None:
            return None
        run = session(str(path))
        return Loaded(run, device_of(run))

    return Method(
        name=name,
        summary=summary,
        params=PARAMS,
        segment=segment,
        family="deep",
        cleanup_defaults={"open_size": 1, "close_size": 1, "min_area": 0.0},
        available=lambda: external.missing(name),
        prepare=prepare,
        rank=rank,
    )
