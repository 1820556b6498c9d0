"""Parameter declarations: the one description from which the CLI checks and the app's widgets are built.

A method declares a tuple of ``Param``; nothing else in the project needs to know a method's
settings. Values arrive as strings (CLI ``--param key=value``) or Python values (app widgets) and are
checked here, so every front end gives the same one-line error for the same mistake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bgapp.core.errors import ParamError

Kind = Literal["int", "float", "bool", "choice", "colour"]
ParamValue = int | float | bool | str

_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n"}


@dataclass(frozen=True)
class Param:
    """One setting of a method or pipeline step.

    ``odd`` marks kernel sizes: the value must be odd (1 means the step is off), which is what
    OpenCV's blurs and morphology want and what a slider with ``step=2`` starting at 1 produces.
    """

    name: str
    kind: Kind
    default: ParamValue
    help: str
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    odd: bool = False
    label: str = ""
    # Only matters while another setting has one of these values, e.g. ("mode", ("binary", ...));
    # the app disables the widget otherwise and says why (``why_inactive``).
    only_when: tuple[str, tuple[ParamValue, ...]] | None = None
    why_inactive: str = ""
    expert: bool = False  # the studio folds it away with the clean-up settings (a seller rarely needs it)

    def __post_init__(self) -> None:
        # A declaration error is the developer's, so it is an AssertionError-like ValueError, raised at import.
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"{self.name}: default {self.default!r} is not one of {self.choices}")
        if self.kind in ("int", "float") and (self.min is None or self.max is None):
            raise ValueError(f"{self.name}: numeric parameters need min and max")
        self.coerce(self.default)

    def inactive(self, values: Mapping[str, ParamValue]) -> str | None:
        """Why this setting has no effect with ``values`` (the other settings), or None when it has."""
        if self.only_when is None:
            return None
        other, wanted = self.only_when
        if other in values and values[other] not in wanted:
            return self.why_inactive or f"no effect unless {other} is {' or '.join(map(str, wanted))}"
        return None

    @property
    def title(self) -> str:
        """Human label for widgets."""
        return self.label or self.name.replace("_", " ").capitalize()

    def describe_range(self) -> str:
        """Allowed values in words, used in help listings and error messages."""
        if self.kind == "choice":
            return " | ".join(self.choices)
        if self.kind == "bool":
            return "true | false"
        if self.kind == "colour":
            return "#RRGGBB, R,G,B or a name (white, black, grey)"
        text = f"{_fmt(self.min)}..{_fmt(self.max)}"
        if self.odd:
            text += ", odd"
        return text

    def coerce(self, value: Any) -> ParamValue:
        """Return ``value`` as this parameter's type, or raise ``ParamError`` naming the allowed values."""
        try:
            if self.kind == "bool":
                return _to_bool(value)
            if self.kind == "colour":
                return to_hex_colour(value)
            if self.kind == "choice":
                text = str(value).strip().lower()
                if text not in self.choices:
                    raise ValueError
                return text
            number = float(value)
            if self.kind == "int":
                if number != int(number):
                    raise ValueError
                number = int(number)
        except (TypeError, ValueError):
            raise ParamError(f"{self.name}={value!r} is not valid: allowed {self.describe_range()}") from None
        assert self.min is not None and self.max is not None
        if not self.min <= number <= self.max:
            raise ParamError(f"{self.name}={value} is out of range: allowed {self.describe_range()}")
        if self.odd and int(number) % 2 == 0:
            raise ParamError(f"{self.name}={value} must be odd: allowed {self.describe_range()}")
        return number


_NAMED = {"white": "#ffffff", "black": "#000000", "grey": "#808080", "gray": "#808080"}


def to_hex_colour(value: Any) -> str:
    """``#rrggbb`` from ``#RRGGBB``, ``RRGGBB``, ``R,G,B`` (0..255) or a few names; ValueError otherwise."""
    text = str(value).strip().lower()
    if text in _NAMED:
        return _NAMED[text]
    if "," in text:
        parts = [int(p) for p in text.split(",")]
        if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
            raise ValueError(value)
        return "#" + "".join(f"{p:02x}" for p in parts)
    text = text.removeprefix("#")
    if len(text) != 6:
        raise ValueError(value)
    int(text, 16)
    return "#" + text


def rgb_of(colour: str) -> tuple[int, int, int]:
    """(r, g, b) of a ``#rrggbb`` string."""
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _fmt(value: float | None) -> str:
    return "" if value is None else (str(int(value)) if float(value).is_integer() else f"{value:g}")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def defaults(params: Sequence[Param]) -> dict[str, ParamValue]:
    """The default value of every declared parameter."""
    return {p.name: p.default for p in params}


def resolve(params: Sequence[Param], given: Mapping[str, Any], owner: str) -> dict[str, ParamValue]:
    """Defaults overlaid with ``given``, every value checked; unknown names are an error naming the known ones."""
    by_name = {p.name: p for p in params}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        allowed = ", ".join(by_name) or "none"
        raise ParamError(f"{owner} has no parameter {unknown[0]!r}: allowed {allowed}")
    values = defaults(params)
    for name, value in given.items():
        values[name] = by_name[name].coerce(value)
    return values


def parse_assignments(items: Sequence[str]) -> dict[str, str]:
    """Turn CLI ``key=value`` strings into a dict; a malformed item is a ``ParamError``."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParamError(f"--param expects key=value, got {item!r}")
        result[key.strip().replace("-", "_")] = value.strip()
    return result


def cutoff_param(answer: str, noun: str, advice: bool = True) -> Param:
    """The Cut-off every network method declares (``threshold``, 0.05..0.95, default 0.5, idle with a soft
    mask): one declaration, so the studio's slider, the CLI's range and their help agree. ``answer`` is
    what is cut ("the network's object+edge probability"), ``noun`` what a soft mask uses instead ("the
    probability"); ``advice`` adds which way to move it."""
    advise = " If part of the product is missing, lower it (try 0.3); if background is kept, raise it (try 0.7)."
    return Param(
        "threshold",
        "float",
        0.5,
        min=0.05,
        max=0.95,
        step=0.05,
        label="Cut-off",
        help=f"A pixel is product when {answer} is above this." + (advise if advice else ""),
        only_when=("soft", (False,)),
        why_inactive=f"a soft mask uses {noun} itself, no cut-off",
    )
