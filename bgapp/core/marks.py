"""Fixing a cut-out by pointing at it: the marks themselves ("keep this", "remove this" clicks and a box
around the product), how they are written (``--keep X,Y``) and checked.

Every automatic method fails on some photos; a seller who sees the wrong part kept should point at it
instead of hunting for a slider. Marks are given in the photo's own pixels (what the CLI's
``--keep X,Y`` means and what the studio stores), so one fix replays on any working size. What a
mark does to a mask is ``core/correction.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from bgapp.core.errors import ParamError

Point = tuple[float, float]
Box = tuple[float, float, float, float]
ZoomFn = Callable[[np.ndarray], np.ndarray]
"""An RGB crop -> a 0..1 product mask of the same height and width (the product network, usually)."""


class MarkError(ParamError):
    """A mark outside the photo, or one that cannot be read: one line for the user."""


@dataclass(frozen=True)
class Marks:
    """The corrections for one photo, in the photo's pixels (x right, y down), in the order made."""

    keep: tuple[Point, ...] = ()
    remove: tuple[Point, ...] = ()
    box: Box | None = None
    order: tuple[str, ...] = field(default=(), compare=False)  # "keep"/"remove"/"box": for undo

    def __bool__(self) -> bool:
        return bool(self.keep or self.remove or self.box)

    def add(self, kind: str, value: Sequence[float]) -> Marks:
        """These marks plus one more (a new box replaces the old one)."""
        if kind == "box":
            x0, y0, x1, y1 = (float(v) for v in value)
            box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            order = tuple(k for k in self.order if k != "box") + ("box",)
            return Marks(self.keep, self.remove, box, order)
        point = (float(value[0]), float(value[1]))
        if kind == "keep":
            return Marks(self.keep + (point,), self.remove, self.box, self.order + ("keep",))
        if kind == "remove":
            return Marks(self.keep, self.remove + (point,), self.box, self.order + ("remove",))
        raise MarkError(f"unknown mark {kind!r}: keep, remove or box")

    def clicks(self) -> list[tuple[str, Point]]:
        """Every keep/remove point with its kind, in the order made (keeps, then removes, for marks
        built without an order)."""
        order = [kind for kind in self.order if kind != "box"]
        if len(order) != len(self.keep) + len(self.remove):
            order = ["keep"] * len(self.keep) + ["remove"] * len(self.remove)
        points = {"keep": iter(self.keep), "remove": iter(self.remove)}
        return [(kind, next(points[kind])) for kind in order]

    def undo(self) -> Marks:
        """These marks without the last one made."""
        if not self.order:
            return Marks()
        last, order = self.order[-1], self.order[:-1]
        if last == "box":
            return Marks(self.keep, self.remove, None, order)
        if last == "keep":
            return Marks(self.keep[:-1], self.remove, self.box, order)
        return Marks(self.keep, self.remove[:-1], self.box, order)

    def scaled(self, factor: float) -> Marks:
        """The same marks on a copy of the photo ``factor`` times its size."""

        def point(p: Point) -> Point:
            return (p[0] * factor, p[1] * factor)

        box = None if self.box is None else tuple(v * factor for v in self.box)
        return Marks(tuple(map(point, self.keep)), tuple(map(point, self.remove)), box, self.order)  # type: ignore[arg-type]

    def check(self, width: int, height: int) -> None:
        """Refuse any mark outside a ``width`` x ``height`` photo, naming it."""
        for kind, points in (("keep", self.keep), ("remove", self.remove)):
            for x, y in points:
                if not (0 <= x < width and 0 <= y < height):
                    raise MarkError(f"--{kind} {_fmt(x)},{_fmt(y)} is outside the {width}x{height} photo")
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
                raise MarkError(f"--box {','.join(_fmt(v) for v in self.box)} is outside the {width}x{height} photo")
            if x1 - x0 < 2 or y1 - y0 < 2:
                raise MarkError(
                    f"--box {','.join(_fmt(v) for v in self.box)} is empty: give X0,Y0,X1,Y1 with X1 > X0, Y1 > Y0"
                )

    def to_json(self) -> str:
        return json.dumps({"keep": self.keep, "remove": self.remove, "box": self.box, "order": self.order})

    @staticmethod
    def from_json(text: str) -> Marks:
        data = json.loads(text)
        box = data.get("box")
        return Marks(
            tuple(tuple(p) for p in data.get("keep", ())),
            tuple(tuple(p) for p in data.get("remove", ())),
            None if box is None else tuple(box),
            tuple(data.get("order", ())),
        )

    def cli_arguments(self) -> str:
        """The ``cut`` flags that replay these marks, e.g. ``--keep 120,80 --box 10,10,400,300``."""
        parts = [f"--keep {_fmt(x)},{_fmt(y)}" for x, y in self.keep]
        parts += [f"--remove {_fmt(x)},{_fmt(y)}" for x, y in self.remove]
        if self.box is not None:
            parts.append("--box " + ",".join(_fmt(v) for v in self.box))
        return " ".join(parts)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def parse_numbers(text: str, count: int, flag: str) -> tuple[float, ...]:
    """``"120,80"`` -> (120.0, 80.0); a malformed value is a one-line error naming the flag."""
    shape = ",".join(("X", "Y") if count == 2 else ("X0", "Y0", "X1", "Y1"))
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise MarkError(
            f"{flag} {text!r}: expected {shape} in photo pixels, e.g. {flag} "
            f"{'120,80' if count == 2 else '10,10,400,300'}"
        ) from None
    if len(values) != count or not all(np.isfinite(values)):
        raise MarkError(f"{flag} {text!r}: expected {count} numbers {shape} in photo pixels")
    return values


def marks_from_arguments(keep: Sequence[str] = (), remove: Sequence[str] = (), box: str | None = None) -> Marks:
    """The marks the CLI's ``--keep``/``--remove``/``--box`` flags give."""
    marks = Marks()
    for text in keep:
        marks = marks.add("keep", parse_numbers(text, 2, "--keep"))
    for text in remove:
        marks = marks.add("remove", parse_numbers(text, 2, "--remove"))
    if box:
        marks = marks.add("box", parse_numbers(box, 4, "--box"))
    return marks
