"""The method registry: every module in this package that defines ``METHOD`` is a method, and every
network in ``core.models.MODELS`` is one too.

No hand-kept list: adding ``bgapp/core/methods/mymethod.py`` with a ``METHOD = Method(...)`` (or a
network to ``MODELS``) makes it appear in ``python -m bgapp methods``, in ``cut --method``, in the
app's method picker (with widgets built from its ``params``), in ``evaluate`` and in ``bench``.
Modules must be cheap to import: networks load on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from bgapp.core.errors import ParamError
from bgapp.core.params import Param, ParamValue, resolve

SegmentFn = Callable[[np.ndarray, Mapping[str, ParamValue]], np.ndarray]


@dataclass(frozen=True)
class Method:
    """A segmentation method: RGB uint8 (H, W, 3) and checked parameters to a float32 (H, W) mask in 0..1.

    ``cleanup_defaults`` overrides the shared clean-up defaults where this method's typical output
    needs something else (a network's mask needs no speck removal, adaptive thresholding needs more
    closing). ``trimap`` is set by methods that can also give the 3-class (object, background,
    border) answer that the Oxford-IIIT Pet benchmark scores. ``prepare`` loads what the method
    needs (a network) ahead of the first photo, so a timing shows the work and not the loading.
    """

    name: str
    summary: str
    params: tuple[Param, ...]
    segment: SegmentFn
    family: Literal["classical", "deep"] = "classical"
    cleanup_defaults: Mapping[str, ParamValue] = field(default_factory=dict)
    trimap: Callable[[np.ndarray, Mapping[str, ParamValue]], np.ndarray] | None = None
    available: Callable[[], str | None] = lambda: None
    prepare: Callable[[Mapping[str, ParamValue]], object] = lambda params: None
    made_for: str = "product"  # "pets" for the networks that reproduce the pet report: listed apart
    licence: str = ""  # what the method's trained weights may be used for (networks); "" = no restriction
    rank: int = 0
    """How strong a network this is on real photos, for ``auto`` (the default method): the highest
    rank that can run here is the one ``auto`` builds on; 0 is never chosen. Set from measured DUTS-TE
    figures where we have them, else from the publisher's own (``docs/models.md`` gives each)."""
    confidence: SegmentFn | None = None
    """The method's own probability of product per pixel (networks), for ``core.checks``: a cut-out
    that is mostly unsure is flagged for checking. None where a method has no such probability."""
    explain: Callable[[np.ndarray, Mapping[str, ParamValue]], str] | None = None
    """What ran on this photo, in words, where that is more than the method's name (``auto``: which
    networks and steps); read right after ``segment`` on the same photo, it costs no second run."""
    doubts: Callable[[np.ndarray, Mapping[str, ParamValue]], list[str]] | None = None
    """Reasons to check this photo's cut-out that only the method can see (``auto``: its looks
    disagree), beside the mask's own (``core.checks``); read right after ``segment`` like ``explain``."""

    def resolve(self, given: Mapping[str, Any]) -> dict[str, ParamValue]:
        """Defaults overlaid with ``given``, each value checked against its declaration."""
        return resolve(self.params, given, f"method {self.name!r}")

    def run(self, rgb: np.ndarray, given: Mapping[str, Any] | None = None) -> np.ndarray:
        """Segment ``rgb`` with checked parameters; the mask always comes back float32, same height and width."""
        mask = np.asarray(self.segment(rgb, self.resolve(given or {})), dtype=np.float32)
        if mask.shape != rgb.shape[:2]:
            raise AssertionError(f"{self.name} returned a {mask.shape} mask for a {rgb.shape[:2]} image")
        return np.clip(mask, 0.0, 1.0)

    def ran(self, rgb: np.ndarray, given: Mapping[str, Any] | None = None) -> str:
        """What ran on ``rgb`` (after ``run`` on it): the method's name, with ``explain``'s words where it has them."""
        if self.explain is None:
            return self.name
        return f"{self.name} ({self.explain(rgb, self.resolve(given or {}))})"

    def reasons_to_check(self, rgb: np.ndarray, given: Mapping[str, Any] | None = None) -> list[str]:
        """``doubts`` with checked parameters (after ``run`` on ``rgb``); empty for a method without them."""
        return [] if self.doubts is None else list(self.doubts(rgb, self.resolve(given or {})))

    def probability(self, rgb: np.ndarray, given: Mapping[str, Any] | None = None) -> np.ndarray | None:
        """``confidence`` with checked parameters, or None for a method without one."""
        if self.confidence is None:
            return None
        return np.asarray(self.confidence(rgb, self.resolve(given or {})), dtype=np.float32)


@lru_cache(maxsize=1)
def all_methods() -> dict[str, Method]:
    """Every method found in this package, classical first, then by name."""
    found: dict[str, Method] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        method = getattr(module, "METHOD", None)
        if isinstance(method, Method):
            if method.name in found:
                raise RuntimeError(f"two modules declare the method {method.name!r}")
            found[method.name] = method
    from bgapp.core.methods._unet import unet_method
    from bgapp.core.models import MODELS

    for name, entry in MODELS.items():
        if entry.made_for == "clicks":
            continue  # corrects a method's mask where the seller clicked; not a method itself
        if name in found:
            raise RuntimeError(f"a module and a network both declare the method {name!r}")
        found[name] = unet_method(name, entry.summary, entry.made_for, entry.licence, entry.rank)
    order = sorted(
        found.values(), key=lambda m: (m.made_for != "product", m.family != "classical", _ORDER.get(m.name, 99), m.name)
    )
    return {m.name: m for m in order}


_ORDER = {"threshold": 0, "adaptive": 1, "kmeans": 2, "meanshift": 3, "grabcut": 4}


DEFAULT_ORDER = ("auto", "unet-product", "grabcut")
"""``auto`` builds on the strongest network that runs here (``Method.rank``); GrabCut needs no model."""


def default_method(runnable: Collection[str] | None = None) -> str:
    """The method a user gets without choosing: the first of ``DEFAULT_ORDER`` that can run here
    (``runnable``: the names known to run, when the caller has already checked)."""
    if runnable is None:
        runnable = [n for n, m in all_methods().items() if m.available() is None]
    return next((n for n in DEFAULT_ORDER if n in runnable), "grabcut")


def get_method(name: str) -> Method:
    """The method called ``name``, or a ``ParamError`` listing the names there are."""
    methods = all_methods()
    if name not in methods:
        raise ParamError(f"unknown method {name!r}: allowed {', '.join(methods)}")
    return methods[name]
