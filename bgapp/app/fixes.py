"""Fixing a cut-out by clicking on the photo: the marks' controls, their drawing and their storage.

The marks live in the session per photo and per method (a fix made for GrabCut's mask means nothing
for the network's), in the photo's own pixels, so the preview, the full-resolution download, the
ZIP and the CLI line shown under the photo all replay the same fix. The correction itself is in
the core (``core/correction.py``); this module only turns clicks into marks.

The clickable photo is ``streamlit-image-coordinates`` (MIT): it returns where a click or a drag
landed, which is all a mark needs, with no drawing canvas to ship.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import cv2
import numpy as np
import streamlit as st

from bgapp.app.photos import Photo
from bgapp.core.marks import Marks
from bgapp.core.methods import Method

MODES: dict[str, str] = {"Keep": "keep", "Remove": "remove", "Box": "box"}
MODE_HELP = (
    "Keep: click a part of the product the cut-out misses. Remove: click background it kept. "
    "Box: drag a box around the product (nothing outside it is kept). On a busy photo, a tight "
    "box first saves clicks."
)
KEEP_COLOUR, REMOVE_COLOUR, BOX_COLOUR = (40, 200, 70), (235, 50, 50), (40, 120, 255)
DRAG_MIN_PX = 6  # a drag shorter than this (on screen) is a click


def _store() -> dict[str, str]:
    return st.session_state.setdefault("marks", {})


def _key(photo: Photo, method: Method | str) -> str:
    return f"{photo.key}|{getattr(method, 'name', method)}"


def current_marks(photo: Photo, method: Method | str) -> Marks:
    """The marks made on ``photo`` for ``method`` in this session (none yet: empty)."""
    text = _store().get(_key(photo, method))
    return Marks.from_json(text) if text else Marks()


def set_marks(photo: Photo, method: Method | str, marks: Marks) -> None:
    _store()[_key(photo, method)] = marks.to_json()


def marks_by_photo(photos: tuple[Photo, ...] | list[Photo], method: Method | str) -> dict[str, Marks]:
    """Every photo's marks for ``method``, for the ZIP."""
    return {photo.key: current_marks(photo, method) for photo in photos}


def click_to_mark(marks: Marks, mode: str, value: dict[str, Any], full_size: tuple[int, int]) -> Marks:
    """The marks after one event of the clickable photo (display pixels -> photo pixels).

    In Keep/Remove mode a click (or a short drag) adds a point where the button went down; in Box
    mode a drag gives the box and a click is ignored (a box needs two corners)."""
    shown_w, shown_h = float(value.get("width") or 0), float(value.get("height") or 0)
    if shown_w <= 0 or shown_h <= 0:
        return marks
    fx, fy = full_size[0] / shown_w, full_size[1] / shown_h
    x1, y1 = float(value.get("x1", value.get("x", 0))), float(value.get("y1", value.get("y", 0)))
    x2, y2 = float(value.get("x2", x1)), float(value.get("y2", y1))

    def inside(x: float, y: float) -> tuple[float, float]:
        return (min(max(x * fx, 0.0), full_size[0] - 1.0), min(max(y * fy, 0.0), full_size[1] - 1.0))

    dragged = abs(x2 - x1) >= DRAG_MIN_PX or abs(y2 - y1) >= DRAG_MIN_PX
    if mode == "box":
        if not dragged:
            return marks
        (ax, ay), (bx, by) = inside(x1, y1), inside(x2, y2)
        return marks.add(
            "box",
            (min(ax, bx), min(ay, by), min(max(ax, bx) + 1.0, full_size[0]), min(max(ay, by) + 1.0, full_size[1])),
        )
    return marks.add(mode, tuple(round(v) for v in inside(x1, y1)))


def draw_marks(image: np.ndarray, marks: Marks, full_size: tuple[int, int]) -> np.ndarray:
    """``image`` (the preview, RGB) with the marks drawn: green dots keep, red dots remove, a blue box."""
    if not marks:
        return image
    out = image.copy()
    scale = image.shape[1] / full_size[0]
    radius = max(4, round(max(image.shape[:2]) / 110))
    for points, colour in ((marks.keep, KEEP_COLOUR), (marks.remove, REMOVE_COLOUR)):
        for x, y in points:
            centre = (round(x * scale), round(y * scale))
            cv2.circle(out, centre, radius + 2, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(out, centre, radius, colour, -1, cv2.LINE_AA)
    if marks.box is not None:
        x0, y0, x1, y1 = (round(v * scale) for v in marks.box)
        cv2.rectangle(out, (x0, y0), (x1, y1), BOX_COLOUR, max(2, radius // 2), cv2.LINE_AA)
    return out


def fix_controls(photo: Photo, method: Method, container: Any) -> str:
    """The mode switch, Undo and Clear; returns the mode ("keep", "remove" or "box")."""
    marks = current_marks(photo, method)
    columns = container.columns([3, 1, 1])
    label = columns[0].segmented_control(
        "Click on the photo to", list(MODES), default="Keep", key="fix_mode", help=MODE_HELP
    )
    if columns[1].button("Undo", key="fix_undo", disabled=not marks, help="Take back the last mark"):
        set_marks(photo, method, marks.undo())
    if columns[2].button("Clear", key="fix_clear", disabled=not marks, help="Remove every mark on this photo"):
        set_marks(photo, method, Marks())
    return MODES.get(label or "Keep", "keep")


def clickable_photo(
    container: Any, image: np.ndarray, photo: Photo, method: Method, mode: str, full_size: tuple[int, int]
) -> None:
    """The photo with its marks, taking clicks: each new click or drag becomes a mark before the
    next rerun (so the preview that follows already shows the fix)."""
    from streamlit_image_coordinates import streamlit_image_coordinates

    key = f"click|{_key(photo, method)}"
    drawn = draw_marks(image, current_marks(photo, method), full_size)
    with container:
        streamlit_image_coordinates(
            drawn,
            key=key,
            width="stretch",
            click_and_drag=True,
            image_format="JPEG",
            jpeg_quality=85,
            cursor="crosshair",
            on_click=partial(_take_click, key, photo, method, mode, full_size),
        )


def _take_click(key: str, photo: Photo, method: Method, mode: str, full_size: tuple[int, int]) -> None:
    value = st.session_state.get(key)
    if not isinstance(value, dict):
        return
    seen = st.session_state.setdefault("clicks_seen", {})
    if seen.get(key) == value.get("unix_time"):
        return  # the same event again (a rerun), not a new click
    seen[key] = value.get("unix_time")
    set_marks(photo, method, click_to_mark(current_marks(photo, method), mode, value, full_size))
