"""Export: frame the cut-out the way a shop wants it and encode it (the last pipeline step).

One generic framing covers every preset:
    crop to the product's bounding box + margin (% of the product's longer side, or px)
    -> optional square canvas (the product centred) -> optional output size / minimum size
    -> optional soft contact shadow -> background (transparent or a colour) -> PNG or JPEG.
Presets are named settings of it:
- ``transparent``: the photo's frame, RGBA PNG (the default);
- ``white``: the photo's frame on pure white, JPEG;
- ``amazon``: Amazon's main-image rules: square, pure white (255, 255, 255), the product centred with
  its bounding box's longer side at 85 % of the frame, 2000 px (never below 1000), sRGB JPEG.
Holes stay holes: only the alpha decides what is product, so background seen through a handle is
replaced by the export's background like any other background.

Pure white survives JPEG: a JPEG block that is entirely white decodes to exactly 255 at quality 95
with 4:4:4 chroma; only blocks that touch the product's edge can round to 254 (tested).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from bgapp.core.compose import compose_on_colour
from bgapp.core.errors import BgappError
from bgapp.core.images import encode_jpeg, encode_png, to_uint8
from bgapp.core.params import Param, ParamValue, resolve, rgb_of

AMAZON_FILL = 0.85  # the product's longer side as a share of the frame
AMAZON_MARGIN = round((1.0 / AMAZON_FILL - 1.0) / 2.0 * 100.0, 4)  # % of the product's side, each side

EXPORT_PARAMS: tuple[Param, ...] = (
    Param("crop", "bool", False, help="Crop to the product plus the margin (off: keep the photo's own frame)."),
    Param(
        "margin",
        "float",
        5.0,
        min=0.0,
        max=400.0,
        step=0.5,
        help="Space kept around the product on each side when cropping: % of the product's longer side, or px.",
        only_when=("crop", (True,)),
        why_inactive="only used when cropping to the product",
    ),
    Param(
        "margin_unit",
        "choice",
        "%",
        choices=("%", "px"),
        help="Unit of the margin.",
        only_when=("crop", (True,)),
        why_inactive="only used when cropping to the product",
    ),
    Param("square", "bool", False, help="Square canvas with the product centred (most shops' grid)."),
    Param(
        "size",
        "int",
        0,
        min=0,
        max=10000,
        step=50,
        label="Output size (px)",
        help="Longer side of the result in px; 0 keeps the photo's resolution.",
    ),
    Param(
        "min_size",
        "int",
        0,
        min=0,
        max=10000,
        step=50,
        label="Minimum output size (px)",
        help="Enlarge smaller results to at least this many px on the longer side (0 = never).",
    ),
    Param(
        "background",
        "choice",
        "transparent",
        choices=("transparent", "colour"),
        help="Transparent (PNG only) or a solid colour.",
    ),
    Param(
        "colour",
        "colour",
        "#ffffff",
        help="Background colour when background=colour (#RRGGBB).",
        only_when=("background", ("colour",)),
        why_inactive="the background is transparent",
    ),
    Param("format", "choice", "png", choices=("png", "jpeg"), help="PNG keeps transparency; JPEG is smaller."),
    Param("shadow", "bool", False, help="Add a soft contact shadow under the product."),
    Param(
        "shadow_strength",
        "float",
        0.35,
        min=0.0,
        max=1.0,
        step=0.05,
        help="Darkness of the shadow's core.",
        only_when=("shadow", (True,)),
        why_inactive="the shadow is off",
    ),
    Param(
        "shadow_softness",
        "float",
        4.0,
        min=0.5,
        max=20.0,
        step=0.5,
        help="Blur of the shadow, % of the product's width.",
        only_when=("shadow", (True,)),
        why_inactive="the shadow is off",
    ),
)

PRESETS: dict[str, dict[str, ParamValue]] = {
    "transparent": {},
    "white": {"background": "colour", "colour": "#ffffff", "format": "jpeg"},
    "amazon": {
        "crop": True,
        "margin": AMAZON_MARGIN,
        "margin_unit": "%",
        "square": True,
        "size": 2000,
        "min_size": 1000,
        "background": "colour",
        "colour": "#ffffff",
        "format": "jpeg",
    },
}
EXPORT_KINDS: tuple[str, ...] = (*PRESETS, "custom")
"""Every export a user can name: the presets, then ``custom`` (the framing settings from their defaults)."""

PRESET_HELP = {
    "transparent": "RGBA PNG at the photo's size (the default).",
    "white": "The product on pure white at the photo's size, JPEG.",
    "amazon": "Amazon main image: square, pure white, product at 85 % of the frame, 2000 px, sRGB JPEG.",
    "custom": "Your own framing: margin, square, size, background colour, shadow, format.",
}


def export_settings(preset: str, overrides: Mapping[str, Any] | None = None) -> dict[str, ParamValue]:
    """The preset's settings with ``overrides`` on top, every value checked; ``custom`` starts from defaults."""
    if preset not in PRESETS and preset != "custom":
        raise BgappError(f"unknown export {preset!r}: allowed {', '.join(EXPORT_KINDS)}")
    values = {**PRESETS.get(preset, {}), **(overrides or {})}
    settings = resolve(EXPORT_PARAMS, values, f"export {preset!r}")
    if settings["background"] == "transparent" and settings["format"] == "jpeg":
        raise BgappError("JPEG cannot be transparent: choose background=colour or format=png")
    return settings


@dataclass(frozen=True)
class Framed:
    """The framed result before encoding: RGB, or RGBA when the background is transparent."""

    pixels: np.ndarray
    box: tuple[int, int, int, int] | None  # the product's bounding box in ``pixels`` (x0, y0, x1, y1)


def frame(colours: np.ndarray, alpha: np.ndarray, settings: Mapping[str, ParamValue]) -> Framed:
    """Crop, square, scale, shadow and compose one cut-out as ``settings`` ask."""
    if not (settings["crop"] or settings["square"] or settings["shadow"]) and _scale(alpha.shape, settings) == 1.0:
        return Framed(_compose_in_place(colours, alpha, settings), product_box(alpha))
    premult = colours.astype(np.float32) * alpha[..., None]
    box = product_box(alpha)
    if settings["crop"] or settings["square"]:
        if box is None:
            raise BgappError("no product found to frame: the mask is empty (try another method or setting)")
        region = _region(box, alpha.shape, settings)
        premult, alpha = _take(premult, region), _take(alpha.astype(np.float32), region)
    scale = _scale(alpha.shape, settings)
    if scale != 1.0:
        size = (max(1, round(alpha.shape[1] * scale)), max(1, round(alpha.shape[0] * scale)))
        interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
        premult = cv2.resize(premult, size, interpolation=interpolation)
        alpha = np.clip(cv2.resize(alpha, size, interpolation=interpolation), 0.0, 1.0)
        premult = np.clip(premult, 0.0, 255.0 * alpha[..., None])
    shadow = contact_shadow(alpha, settings) if settings["shadow"] else None
    pixels = _compose(premult, alpha, shadow, settings)
    return Framed(pixels, product_box(alpha))


def product_box(alpha: np.ndarray, level: float = 0.1) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1), end-exclusive, of the pixels at least ``level`` opaque; None if there are none."""
    solid = alpha >= level
    rows = np.flatnonzero(solid.any(axis=1))  # rows and columns, not every pixel's index (12 MP: 15 ms, not 200)
    if not len(rows):
        return None
    cols = np.flatnonzero(solid.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _region(
    box: tuple[int, int, int, int], shape: tuple[int, ...], settings: Mapping[str, ParamValue]
) -> tuple[int, int, int, int]:
    """The frame around the product (may reach past the photo; the outside is background)."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    margin = float(settings["margin"])
    pad = margin / 100.0 * max(width, height) if settings["margin_unit"] == "%" else margin
    if not settings["crop"]:  # square only: keep the photo's frame and pad it out
        x0, y0, x1, y1, pad = 0, 0, shape[1], shape[0], 0.0
        width, height = x1 - x0, y1 - y0
    frame_w, frame_h = width + 2 * pad, height + 2 * pad
    if settings["square"]:
        frame_w = frame_h = max(frame_w, frame_h)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    left, top = round(cx - frame_w / 2.0), round(cy - frame_h / 2.0)
    return left, top, left + round(frame_w), top + round(frame_h)


def _take(array: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
    """``array`` cut to ``region``, zero (transparent) where the region lies outside it."""
    left, top, right, bottom = region
    out = np.zeros((bottom - top, right - left, *array.shape[2:]), array.dtype)
    sy0, sx0 = max(0, top), max(0, left)
    sy1, sx1 = min(array.shape[0], bottom), min(array.shape[1], right)
    if sy1 > sy0 and sx1 > sx0:
        out[sy0 - top : sy1 - top, sx0 - left : sx1 - left] = array[sy0:sy1, sx0:sx1]
    return out


def _scale(shape: tuple[int, ...], settings: Mapping[str, ParamValue]) -> float:
    longer = max(shape[:2])
    target = int(settings["size"]) or longer
    target = max(target, int(settings["min_size"]))
    return target / longer


def contact_shadow(alpha: np.ndarray, settings: Mapping[str, ParamValue]) -> np.ndarray:
    """A soft floor shadow (0..1): the product's footprint squashed flat at its base, then blurred.

    It is drawn on the background only, never counted as product, so it can be switched off
    without touching the cut-out."""
    box = product_box(alpha)
    if box is None:
        return np.zeros_like(alpha)
    x0, y0, x1, y1 = box
    width = x1 - x0
    flat_height = max(2, round((y1 - y0) * 0.06))
    footprint = cv2.resize(
        (alpha[y0:y1, x0:x1] > 0.5).astype(np.float32), (width, flat_height), interpolation=cv2.INTER_AREA
    )
    shadow: np.ndarray = np.zeros_like(alpha, dtype=np.float32)
    top = min(alpha.shape[0] - flat_height, y1 - flat_height // 2)
    shadow[max(0, top) : top + flat_height, x0:x1] = footprint[: alpha.shape[0] - max(0, top)]
    sigma = max(1.0, float(settings["shadow_softness"]) / 100.0 * width)
    shadow = cv2.GaussianBlur(shadow, (0, 0), sigma)
    peak = shadow.max()
    return shadow / peak * float(settings["shadow_strength"]) if peak > 0 else shadow


def _compose_in_place(colours: np.ndarray, alpha: np.ndarray, settings: Mapping[str, ParamValue]) -> np.ndarray:
    """The photo's own frame, nothing moved: the same pixels as ``_compose`` at a third of the cost
    (a 12 MP transparent export took 1.1 s through the general path, with its float copies)."""
    if settings["background"] == "colour":
        return compose_on_colour(colours, alpha, rgb_of(str(settings["colour"])))
    opacity = to_uint8(alpha)
    # Fully transparent pixels carry no colour (smaller files, no hidden backdrop). The mask is numpy's
    # comparison, not ``cv2.compare(opacity, 0)``: OpenCV reads a 1x1 array next to the scalar 0 as two
    # scalars and raised for a 1x1 photo (issue 38); the cost is the same (12 MP: ~4 ms).
    rgb = cv2.bitwise_and(colours, colours, mask=(opacity > 0).view(np.uint8))
    return np.dstack([rgb, opacity])


def _compose(
    premult: np.ndarray, alpha: np.ndarray, shadow: np.ndarray | None, settings: Mapping[str, ParamValue]
) -> np.ndarray:
    if settings["background"] == "colour":
        backdrop: np.ndarray = np.asarray(rgb_of(str(settings["colour"])), np.float32)[None, None, :]
        if shadow is not None:
            backdrop = backdrop * (1.0 - shadow[..., None])
        out = premult + backdrop * (1.0 - alpha[..., None])
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    # Transparent: un-premultiply; the shadow becomes translucent black under the product.
    colours = np.where(alpha[..., None] > 1e-4, premult / np.maximum(alpha[..., None], 1e-4), 0.0)
    total = alpha if shadow is None else alpha + shadow * (1.0 - alpha)
    if shadow is not None:
        colours = colours * (alpha / np.maximum(total, 1e-4))[..., None]
    rgba = np.dstack([np.clip(np.rint(colours), 0, 255), np.clip(np.rint(total * 255.0), 0, 255)])
    return rgba.astype(np.uint8)


def encode(framed: Framed, settings: Mapping[str, ParamValue]) -> bytes:
    """PNG or JPEG bytes (the project's one encoder of each: ``images.encode_png`` / ``encode_jpeg``)."""
    if settings["format"] == "png":
        return encode_png(framed.pixels)
    return encode_jpeg(framed.pixels[..., :3], quality=95)


def suffix(settings: Mapping[str, ParamValue]) -> str:
    return ".jpg" if settings["format"] == "jpeg" else ".png"


def media_type(settings: Mapping[str, ParamValue]) -> str:
    """The file's media type for a download or an HTTP answer (``image/jpeg`` or ``image/png``)."""
    return "image/jpeg" if settings["format"] == "jpeg" else "image/png"


def result_name(stem: str, kind: str, extension: str) -> str:
    """The file name of one result, the same in the CLI, the app's downloads and ZIP, the API and the
    batch: ``photo.png`` for the default transparent export, ``photo-<kind><ext>`` for the others
    (``photo-white.jpg``, ``photo-amazon.jpg``, ``photo-mask.png``), so two exports of one photo
    never share a name."""
    stem = stem or "photo"
    return f"{stem}{extension}" if kind == "transparent" else f"{stem}-{kind}{extension}"


@dataclass(frozen=True)
class Export:
    """What a result is to be, known before any pixel: its kind (a preset, ``custom``, or ``mask``) and
    its checked framing settings. The suffix, the media type and the file name follow from it, in
    this one place, for every front end (they were derived in four)."""

    kind: str
    settings: Mapping[str, ParamValue]

    @staticmethod
    def of(kind: str = "transparent", overrides: Mapping[str, Any] | None = None, mask: bool = False) -> Export:
        """The export ``kind`` with ``overrides`` on top (each checked), or the mask (a grey PNG)."""
        if mask:
            return Export("mask", export_settings("transparent"))
        return Export(kind, export_settings(kind, overrides))

    @staticmethod
    def coerce(value: Export | str | Mapping[str, Any], mask: bool = False) -> Export:
        """An ``Export`` from what callers hold: one already, a preset name, or the settings mapping
        with its ``preset`` (the form a batch folder's settings hash is made of)."""
        if mask:
            return Export.of(mask=True)
        if isinstance(value, Export):
            return value
        if isinstance(value, str):
            return Export.of(value)
        settings = dict(value)
        kind = str(settings.pop("preset", "custom"))
        return Export(kind, export_settings(kind if kind in EXPORT_KINDS else "custom", settings))

    @property
    def is_mask(self) -> bool:
        return self.kind == "mask"

    @property
    def suffix(self) -> str:
        return ".png" if self.is_mask else suffix(self.settings)

    @property
    def media_type(self) -> str:
        return "image/png" if self.is_mask else media_type(self.settings)

    def file_name(self, stem: str) -> str:
        """``photo.png``, ``photo-white.jpg``, ``photo-mask.png`` ... (``result_name``)."""
        return result_name(stem, self.kind, self.suffix)

    def as_mapping(self) -> dict[str, ParamValue]:
        """The settings with their ``preset``: what a batch folder's settings document records."""
        return {"preset": self.kind, **self.settings}
