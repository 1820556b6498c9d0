"""remove.bg's request fields mapped onto bgapp's own export settings (pure functions, no I/O).

A shop that already calls remove.bg (``POST /v1.0/removebg`` with ``image_file``, ``size``,
``format``, ``bg_color``, ``crop``...) can point its client at a bgapp server and keep its code.
Fields that change the picture and that bgapp cannot honour (a background image, ``scale``,
``position``, ``roi``) are refused with a one-line reason rather than silently ignored; fields
that only steer remove.bg's own model choice (``type``, ``type_level``, ``semitransparency``) are
accepted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from PIL import ImageColor

from bgapp.core.errors import ParamError
from bgapp.core.export import export_settings
from bgapp.core.params import ParamValue

# remove.bg's size names -> the largest picture in megapixels (None: the photo's own size).
# Its default is "preview" because previews cost no credits there; there are no credits here,
# so the default is "auto" (the full size).
SIZES: dict[str, float | None] = {
    "preview": 0.25,
    "small": 0.25,
    "regular": 0.25,
    "medium": 1.5,
    "hd": 4.0,
    "4k": 10.0,
    "full": None,
    "auto": None,
    "50mp": None,
}
TYPES = ("auto", "person", "product", "animal", "car", "transportation", "graphic", "other")
FORMATS = ("auto", "png", "jpg", "jpeg")
SOURCES = ("image_file", "image_file_b64", "image_url")
FIELDS = (
    "size",
    "type",
    "type_level",
    "format",
    "bg_color",
    "crop",
    "crop_margin",
    "channels",
    "add_shadow",
    "semitransparency",
    "roi",
    "scale",
    "position",
)
# remove.bg fields bgapp cannot honour, with the one value of each that asks for nothing.
UNSUPPORTED: dict[str, str | None] = {
    "bg_image_url": None,
    "bg_image_file": None,
    "shadow_type": None,
    "shadow_opacity": None,
    "scale": "original",
    "position": "original",
    "roi": "0% 0% 100% 100%",
}


@dataclass(frozen=True)
class Job:
    """One remove.bg request in bgapp's terms: the export (with ``preset``), or the mask, and the size cap."""

    export: dict[str, ParamValue]
    mask: bool
    mask_format: str  # "png" or "jpeg", when ``mask``
    max_megapixels: float | None
    foreground_type: str


def parse_job(fields: Mapping[str, str]) -> Job:
    """remove.bg's text fields (every one optional) to a ``Job``; ``ParamError`` names the bad field."""
    for name, allowed in UNSUPPORTED.items():
        if name in fields and (allowed is None or fields[name].strip().lower() != allowed.lower()):
            raise ParamError(f"{name} is not supported by this server (bgapp): leave it out")
    unknown = sorted(set(fields) - set(FIELDS) - set(UNSUPPORTED) - set(SOURCES))
    if unknown:
        raise ParamError(f"unknown field {unknown[0]!r}: allowed {', '.join((*SOURCES, *FIELDS))}")
    size = _choice(fields, "size", "auto", tuple(SIZES))
    kind = _choice(fields, "type", "auto", TYPES)
    fmt = _choice(fields, "format", "auto", FORMATS + ("zip", "webp"))
    if fmt in ("zip", "webp"):
        raise ParamError(f"format={fmt} is not supported by this server: use png, jpg or auto")
    channels = _choice(fields, "channels", "rgba", ("rgba", "alpha"))
    colour = parse_colour(fields["bg_color"]) if fields.get("bg_color", "").strip() else None
    want_jpeg = fmt in ("jpg", "jpeg") or (fmt == "auto" and colour is not None)
    overrides: dict[str, object] = {
        "background": "colour" if colour or want_jpeg else "transparent",
        "colour": colour or "#ffffff",  # a JPEG without bg_color is on white, as at remove.bg
        "format": "jpeg" if want_jpeg else "png",
        "shadow": parse_bool(fields, "add_shadow", False),
    }
    if parse_bool(fields, "crop", False):
        margin, unit = parse_margin(fields.get("crop_margin", "0"))
        overrides.update(crop=True, margin=margin, margin_unit=unit)
    preset = (
        "transparent"
        if overrides == {"background": "transparent", "colour": "#ffffff", "format": "png", "shadow": False}
        else "custom"
    )
    export = {"preset": preset, **export_settings("custom", overrides)}
    return Job(
        export=export,
        mask=channels == "alpha",
        mask_format="jpeg" if fmt in ("jpg", "jpeg") else "png",
        max_megapixels=SIZES[size],
        foreground_type="product" if kind == "auto" else kind,
    )


def longer_side_for(max_megapixels: float | None, width: int, height: int) -> int | None:
    """The longer side that brings a ``width`` x ``height`` photo within ``max_megapixels``; None if it fits."""
    if max_megapixels is None or width * height <= max_megapixels * 1e6:
        return None
    scale = math.sqrt(max_megapixels * 1e6 / (width * height))
    return max(1, math.floor(max(width, height) * scale))


def parse_colour(text: str) -> str:
    """remove.bg's ``bg_color`` (``81d4fa``, ``fff``, ``#81d4fa``, a colour name) as ``#rrggbb``."""
    value = text.strip()
    if value and all(c in "0123456789abcdefABCDEF" for c in value) and len(value) in (3, 4, 6, 8):
        value = "#" + value
    try:
        rgba = ImageColor.getrgb(value)
    except ValueError:
        raise ParamError(f"bg_color={text!r} is not a colour: use hex like 81d4fa or a name like white") from None
    if len(rgba) == 4 and rgba[3] != 255:
        raise ParamError("bg_color with transparency is not supported: use 6 hex digits (or leave it out)")
    return "#{:02x}{:02x}{:02x}".format(*rgba[:3])


def parse_margin(text: str) -> tuple[float, str]:
    """remove.bg's ``crop_margin`` (``0``, ``30px``, ``10%``) as (value, unit); a bare number is px."""
    value = text.strip().lower()
    unit = "%" if value.endswith("%") else "px"
    number = value.removesuffix("%").removesuffix("px").strip()
    try:
        margin = float(number)
    except ValueError:
        raise ParamError(f"crop_margin={text!r}: use px or % like 30px or 10%") from None
    if not math.isfinite(margin) or margin < 0:
        raise ParamError(f"crop_margin={text!r} must be 0 or more")
    return margin, unit


def parse_bool(fields: Mapping[str, str], name: str, default: bool) -> bool:
    """``true``/``false`` (also 1/0, yes/no, on/off) as remove.bg's clients send them."""
    text = fields.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ParamError(f"{name}={fields[name]!r}: use true or false")


def _choice(fields: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = fields.get(name, "").strip().lower() or default
    if value not in allowed:
        raise ParamError(f"{name}={fields[name]!r}: allowed {', '.join(allowed)}")
    return value
