"""Augmented views of a photo for distillation: pure, seeded functions of (seed, photo key, view number).

A view is a window onto the photo, in the photo's pixels, squashed to a square of the training
size, then maybe mirrored and colour-jittered. The window may lie inside the photo (zoom in: a
crop), contain it (zoom out: the photo smaller on a larger canvas, the rest filled with the
photo's edge pixels repeated, those smoothed to a blur, or its mean colour) or overlap it off-centre (the subject
cut by the frame). Why windows: one affine map per view sends the photo, its true mask and any
point to the same place, so the teacher's answer on a view, the student's input and the true
mask warped by the view always agree (``render_view``, ``render_mask``, ``view_point``).

View 0 of every photo is the whole photo unchanged, so one view per photo is plain distillation.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import asdict, dataclass

import cv2
import numpy as np

KINDS = ("crop", "shrink", "cut")  # zoom in, zoom out, subject cut by the frame
KIND_ODDS = (0.4, 0.35, 0.25)
FILLS = ("blur", "mean", "edge")  # what fills a zoomed-out canvas around the photo
FILL_ODDS = (0.5, 0.3, 0.2)


@dataclass(frozen=True)
class ViewParams:
    """One view: the window (photo pixels, may reach outside the photo), mirror, fill and colour jitter."""

    kind: str  # "full", "crop", "shrink" or "cut"
    left: float
    top: float
    width: float
    height: float
    flip: bool = False
    fill: str = "blur"
    brightness: float = 0.0  # added to RGB in 0..1
    contrast: float = 1.0  # factor about the view's mean grey
    saturation: float = 1.0  # factor about each pixel's grey
    hue: float = 0.0  # turn of the colour wheel, in turns

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> ViewParams:
        return ViewParams(**json.loads(text))


def draw_view(seed: int, key: str, index: int, width: int, height: int) -> ViewParams:
    """View ``index`` of the photo ``key`` (``width`` x ``height`` px): the same answer every time,
    on every machine (the seed mixes ``seed``, a CRC of ``key`` and ``index``)."""
    if index == 0:
        return ViewParams("full", 0.0, 0.0, float(width), float(height))
    rng = np.random.default_rng([seed, zlib.crc32(key.encode()), index])
    kind = KINDS[int(rng.choice(len(KINDS), p=KIND_ODDS))]
    w, h = float(width), float(height)
    if kind == "crop":  # 35-90 % of the area, aspect 3:4-4:3 of the photo's, inside it
        area = rng.uniform(0.35, 0.9)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = min(w, w * math.sqrt(area * ratio)), min(h, h * math.sqrt(area / ratio))
        left, top = rng.uniform(0.0, w - cw), rng.uniform(0.0, h - ch)
    elif kind == "shrink":  # the photo covers 40-85 % of the canvas side, anywhere on it
        scale = rng.uniform(0.4, 0.85)
        cw, ch = w / scale, h / scale
        left, top = -rng.uniform(0.0, cw - w), -rng.uniform(0.0, ch - h)
    else:  # "cut": 55-85 % of each side, its centre 20-40 % of the photo away from the photo's centre
        fraction = rng.uniform(0.55, 0.85)
        cw, ch = w * fraction, h * fraction
        angle, shift = rng.uniform(0.0, 2 * math.pi), rng.uniform(0.2, 0.4)
        left = w / 2 + math.cos(angle) * shift * w - cw / 2
        top = h / 2 + math.sin(angle) * shift * h - ch / 2
    return ViewParams(
        kind,
        float(left),
        float(top),
        float(cw),
        float(ch),
        flip=bool(rng.random() < 0.5),
        fill=FILLS[int(rng.choice(len(FILLS), p=FILL_ODDS))],
        brightness=float(rng.uniform(-0.12, 0.12)),
        contrast=float(rng.uniform(0.75, 1.25)),
        saturation=float(rng.uniform(0.7, 1.3)),
        hue=float(rng.uniform(-0.04, 0.04)),
    )


def view_point(params: ViewParams, size: int, x: float, y: float) -> tuple[float, float]:
    """Where the photo's point (x, y) (continuous pixel coordinates) lands in the size x size view."""
    u = (x - params.left) * size / params.width
    v = (y - params.top) * size / params.height
    return (size - u if params.flip else u), v


def _matrix(params: ViewParams, size: int, scale: float) -> np.ndarray:
    """The 2x3 map from pixel indices of the photo, resized by ``scale``, to the view's (cv2 centres at +0.5)."""
    sx, sy = size / (params.width * scale), size / (params.height * scale)
    left, top = params.left * scale, params.top * scale
    if params.flip:
        return np.array([[-sx, 0.0, size - sx * (0.5 - left) - 0.5], [0.0, sy, sy * (0.5 - top) - 0.5]])
    return np.array([[sx, 0.0, sx * (0.5 - left) - 0.5], [0.0, sy, sy * (0.5 - top) - 0.5]])


def _shrunk(array: np.ndarray, params: ViewParams, size: int) -> tuple[np.ndarray, float]:
    """The array resized (area-averaged) near the view's scale first when the view shrinks it,
    so a zoomed-out view is not aliased; returns it with the scale used."""
    scale = min(size / params.width, size / params.height)
    if scale >= 0.9:
        return array, 1.0
    h, w = array.shape[:2]
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    return cv2.resize(array, (nw, nh), interpolation=cv2.INTER_AREA), nw / w


def _warp(array: np.ndarray, params: ViewParams, size: int, border: int, value=0) -> np.ndarray:
    small, scale = _shrunk(array, params, size)
    return cv2.warpAffine(
        small, _matrix(params, size, scale), (size, size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=value
    )


def render_view(rgb: np.ndarray, params: ViewParams, size: int) -> np.ndarray:
    """The view as uint8 RGB (size, size, 3): geometry, then the canvas fill, then the colour jitter."""
    photo = rgb.astype(np.float32)
    sharp = _warp(photo, params, size, cv2.BORDER_CONSTANT)  # premultiplied by how much photo a pixel holds
    covered = _warp(np.ones(rgb.shape[:2], np.float32), params, size, cv2.BORDER_CONSTANT)[..., None]
    if params.fill == "mean":
        backdrop = np.broadcast_to(photo.reshape(-1, 3).mean(axis=0), sharp.shape)
    else:  # the photo's edge pixels repeated outwards; "blur": smoothed past recognition (no ghost of the subject)
        backdrop = _warp(photo, params, size, cv2.BORDER_REPLICATE)
        if params.fill == "blur":
            backdrop = cv2.resize(
                cv2.resize(backdrop, (8, 8), interpolation=cv2.INTER_AREA), (size, size), interpolation=cv2.INTER_LINEAR
            )
    view = sharp + (1.0 - covered) * backdrop
    return jitter_colours(np.clip(view, 0, 255).astype(np.uint8), params)


def render_mask(mask: np.ndarray, params: ViewParams, size: int) -> np.ndarray:
    """A 0..1 mask of the photo (the truth) through the same window: float32 (size, size). Outside
    the photo it is background, except with the ``edge`` fill, whose canvas repeats the photo's
    edge pixels: there the mask repeats its edge too, so a subject touching the frame is labelled
    as far as the view shows it."""
    border = cv2.BORDER_REPLICATE if params.fill == "edge" else cv2.BORDER_CONSTANT
    return _warp(mask.astype(np.float32), params, size, border)


def jitter_colours(rgb: np.ndarray, params: ViewParams) -> np.ndarray:
    """Brightness, contrast, saturation and hue of ``params`` applied to uint8 RGB."""
    if (params.brightness, params.contrast, params.saturation, params.hue) == (0.0, 1.0, 1.0, 0.0):
        return rgb
    x = rgb.astype(np.float32) / 255.0 + params.brightness
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = (x - grey.mean()) * params.contrast + grey.mean()
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = np.clip(grey[..., None] + (x - grey[..., None]) * params.saturation, 0.0, 1.0)
    if params.hue:
        hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = np.mod(hsv[..., 0] + params.hue * 360.0, 360.0)
        x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)
