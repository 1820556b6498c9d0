"""What the studio's pages share: widgets built from parameter declarations, cached work.

All image work is the core's (``pipeline``, ``compose``, ``images``); this module only turns
declarations into widgets, photos into thumbnails, and errors into messages. Session state holds
only what the user chose (widget values); photos live in Streamlit's per-session uploader and in
content-keyed caches, so two browser sessions never see each other's photos or settings.
"""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from collections import OrderedDict
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import streamlit as st

from bgapp.lab import synth
from bgapp.core.compose import compose_on_checkerboard
from bgapp.core.errors import BgappError
from bgapp.core.images import LoadedImage, load_image, resize_longer_side, resize_mask
from bgapp.core.methods import Method, all_methods, default_method
from bgapp.core.export import EXPORT_PARAMS, PRESET_HELP, export_settings, frame, suffix
from bgapp.core.export import PRESETS as EXPORT_PRESETS
from bgapp.lab.metrics import binary_scores
from bgapp.core.params import Param, ParamValue
from bgapp.core.pipeline import (STEP_PARAMS, Result, Settings, process, result_name, segment_working,
                                 step_defaults, unique_stems)

PREVIEW_SIDE = 1024
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "tif", "tiff", "bmp"]
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Photo:
    """A photo the user can work on: its pixels, a stable key, and the exact mask when we know it."""

    key: str
    name: str
    image: LoadedImage
    truth: np.ndarray | None = None


# --- photos ---------------------------------------------------------------------------------------

SAMPLES = (  # (seed, background, product, pale): rendered by bgapp.synth, exact masks known
    (101, "gradient", "bottle", False),
    (102, "wood", "mug", False),
    (103, "white", "shoe", False),
    (104, "grey", "ring", False),
    (105, "paper", "box", False),
    (106, "white", "jar", True),
)


@lru_cache(maxsize=1)
def sample_photos() -> tuple[Photo, ...]:
    """The built-in samples: studio shots rendered by the project (no licence questions, exact masks)."""
    photos = []
    for seed, background, product, pale in SAMPLES:
        scene = synth.render_scene(seed, (1200, 900), background, product, pale=pale)
        label = f"sample: {'pale ' if pale else ''}{product} on {background}"
        image = LoadedImage(rgb=scene.rgb, alpha=None, name=label, mode="RGB")
        photos.append(Photo(key=f"sample-{seed}", name=label, image=image, truth=scene.mask))
    return tuple(photos)


@st.cache_data(max_entries=64, show_spinner=False)
def decode_upload(data: bytes, name: str) -> tuple[LoadedImage | None, str | None]:
    """Decode uploaded bytes once per content: (image, None), or (None, the reason it was refused)."""
    try:
        return load_image(data, name=name), None
    except BgappError as error:
        return None, str(error)


def uploaded_photos(files: Iterable[Any]) -> tuple[list[Photo], list[tuple[str, str]]]:
    """Good uploads as photos, bad ones as (file name, one-line reason)."""
    photos, problems = [], []
    for file in files:
        data = file.getvalue()
        image, problem = decode_upload(data, file.name)
        if image is None:
            problems.append((file.name, problem or "could not be read"))
        else:
            photos.append(Photo(key=hashlib.sha1(data).hexdigest()[:16], name=file.name, image=image))
    return photos, problems


# --- settings widgets -----------------------------------------------------------------------------

def widget_key(method: str, param: str) -> str:
    return f"setting.{method}.{param}"


def param_widget(param: Param, key: str, default: ParamValue, container: Any) -> ParamValue:
    """One widget for one declaration: a slider for numbers, a select box for choices, a toggle for
    flags, a colour picker for colours."""
    kwargs = {"key": key, "help": param.help, "persist_state": "session"}
    if key not in st.session_state:
        st.session_state[key] = default
    if param.kind == "colour":
        return container.color_picker(param.title, **kwargs)
    if param.kind == "bool":
        return container.toggle(param.title, **kwargs)
    if param.kind == "choice":
        return container.selectbox(param.title, param.choices, **kwargs)
    if param.kind == "int":
        step = int(param.step or 1)
        return container.slider(param.title, int(param.min), int(param.max), step=step, **kwargs)
    return container.slider(param.title, float(param.min), float(param.max), step=float(param.step or 0.1), **kwargs)


def settings_widgets(method: Method, container: Any) -> dict[str, ParamValue]:
    """The method's own widgets, then the shared steps' (clean-up) in an expander; returns the values."""
    values = {p.name: param_widget(p, widget_key(method.name, p.name), p.default, container) for p in method.params}
    defaults = step_defaults(method)
    with container.expander("Clean-up, working size and edges"):
        for param in STEP_PARAMS:
            values[param.name] = param_widget(param, widget_key(method.name, param.name), defaults[param.name], st)
    return values


def stored_settings(method: Method) -> dict[str, ParamValue]:
    """The values this session last chose for ``method`` (defaults where it never touched a widget)."""
    defaults = {**{p.name: p.default for p in method.params}, **step_defaults(method)}
    return {name: st.session_state.get(widget_key(method.name, name), value) for name, value in defaults.items()}


# --- running the pipeline -------------------------------------------------------------------------

@dataclass(frozen=True)
class PreviewResult:
    photo: np.ndarray
    mask: np.ndarray
    cutout: np.ndarray
    milliseconds: float
    iou: float | None
    device: str | None = None  # what ran a network ("CPU", "GPU (CUDA)"); None for classical methods


_WORKING: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
WORKING_COPIES = 8  # a few photos' working copies (<= 2048 px: at most 12 MB each), not every upload's


def working_copy(photo: Photo, work_size: int) -> np.ndarray:
    """The photo at the working size, kept for the last few photos so a slider move does not
    shrink a 24 MP photo again; exactly the copy the full-resolution download segments."""
    key = (photo.key, work_size)
    if key in _WORKING:
        _WORKING.move_to_end(key)
        return _WORKING[key]
    copy = resize_longer_side(photo.image.rgb, work_size)
    _WORKING[key] = copy
    while len(_WORKING) > WORKING_COPIES:
        _WORKING.popitem(last=False)
    return copy


def preview(photo: Photo, settings: Settings) -> PreviewResult:
    """The live preview: the method and clean-up on the same working copy the download uses (so a
    kernel size means the same in both), shown at most ``PREVIEW_SIDE`` px, with its time and the
    IoU against the exact mask when it is known."""
    loaded = settings.method.prepare(settings.method_params)  # a network loads once, outside the timing
    work = working_copy(photo, int(settings.step_params["work_size"]))
    start = time.perf_counter()
    _, mask, _ = segment_working(work, settings)
    milliseconds = (time.perf_counter() - start) * 1000.0
    small = resize_longer_side(work, PREVIEW_SIDE)
    mask = resize_mask(mask, small.shape[:2])
    if photo.image.alpha is not None:
        mask = mask * resize_mask(photo.image.alpha, small.shape[:2])
    iou = None
    if photo.truth is not None:
        iou = binary_scores(mask, resize_mask(photo.truth, small.shape[:2]))["iou"]
    return PreviewResult(small, mask, compose_on_checkerboard(small, mask), milliseconds, iou,
                         getattr(loaded, "device", None))


def full_resolution(photo: Photo, settings: Settings, export: Mapping[str, ParamValue] | str = "transparent",
                    mask: bool = False) -> Result:
    """One download at the photo's full resolution, through the one pipeline."""
    return process(photo.image, settings, export, mask)


def full_resolution_file(photo: Photo, settings: Settings, export: Mapping[str, ParamValue] | str = "transparent",
                         mask: bool = False) -> bytes:
    """Bytes of one download at the photo's full resolution: the chosen export, or the mask."""
    return full_resolution(photo, settings, export, mask).data


def download_name(photo: Photo, export: Mapping[str, ParamValue] | str = "transparent", mask: bool = False) -> str:
    """The file name of a download: the same rule as the command line's (``photo-white.jpg`` ...)."""
    if mask:
        return result_name(file_stem(photo), "mask", ".png")
    settings = export_settings(export) if isinstance(export, str) else export
    kind = export if isinstance(export, str) else str(export.get("preset", "custom"))
    return result_name(file_stem(photo), kind, suffix(settings))


def zip_of_results(photos: list[Photo], settings: Settings, export: Mapping[str, ParamValue] | str = "transparent") -> bytes:
    """A ZIP with the chosen export of every photo, named as ``cut`` names its files (repeated names
    numbered); a photo that fails gets a .txt saying why."""
    buffer = io.BytesIO()
    stems = unique_stems([file_stem(photo) for photo in photos])
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for photo, stem in zip(photos, stems):
            try:
                result = full_resolution(photo, settings, export)
                archive.writestr(result.file_name(stem), result.data)
            except BgappError as error:
                archive.writestr(f"{stem}.FAILED.txt", str(error))
    return buffer.getvalue()


def export_preview(result: "PreviewResult", export: dict[str, ParamValue]) -> np.ndarray:
    """The chosen export drawn at preview size (transparency shown as a checkerboard)."""
    light = {**export, "size": 0, "min_size": 0}
    pixels = frame(result.photo, result.mask, light).pixels
    if pixels.shape[2] == 4:
        return compose_on_checkerboard(pixels[..., :3], pixels[..., 3].astype(np.float32) / 255.0)
    return pixels


def export_widgets(container: Any) -> dict[str, ParamValue]:
    """The export picker; ``custom`` shows every framing setting, built from ``EXPORT_PARAMS``."""
    names = [*EXPORT_PRESETS, "custom"]
    preset = container.selectbox("Export", names, key="export.preset", persist_state="session",
                                 help="What the download looks like. " + " ".join(
                                     f"{n}: {PRESET_HELP[n]}" for n in names))
    overrides: dict[str, ParamValue] = {}
    if preset == "custom":
        with container.expander("Framing", expanded=True):
            for param in EXPORT_PARAMS:
                overrides[param.name] = param_widget(param, f"export.{param.name}", param.default, st)
    elif container.toggle("Soft shadow under the product", key="export.preset_shadow", persist_state="session"):
        overrides["shadow"] = True
    return {"preset": preset, **export_settings(preset, overrides)}


def file_stem(photo: Photo) -> str:
    return Path(photo.name).stem.replace("sample: ", "sample-").replace(" ", "-")


def show_errors(action: Callable[[], None]) -> None:
    """Run a page; a user-caused error becomes its one-line message, anything else a short apology, never a traceback."""
    try:
        action()
    except BgappError as error:
        st.error(str(error))
    except Exception as error:  # noqa: BLE001 - the page must stay usable
        st.error(f"Something went wrong ({type(error).__name__}: {error}). Try other settings or another photo.")


def photo_sidebar() -> list[Photo]:
    """Sidebar: the uploader, messages for bad files, and the list of photos to work on."""
    st.sidebar.header("Photos")
    files = st.sidebar.file_uploader(
        "Upload product photos", type=UPLOAD_TYPES, accept_multiple_files=True, key="uploads",
        help="JPEG, PNG, WebP, TIFF or BMP. Your photos stay in this browser session only.")
    photos, problems = uploaded_photos(files or [])
    for name, reason in problems:
        st.sidebar.error(f"**{name}**: {reason.removeprefix(name + ': ')}")
    use_samples = st.sidebar.toggle("Include the sample photos", value=not photos, key="use_samples",
                                    persist_state="session")
    if use_samples or not photos:
        photos = [*photos, *sample_photos()]
    return photos


def method_picker(label: str = "Method") -> Method:
    """The method select box: every method that can run here; the others are listed with the reason."""
    reasons = {n: m.available() for n, m in all_methods().items()}  # file checks: once per rerun
    methods = {n: m for n, m in all_methods().items() if reasons[n] is None}
    names = list(methods)
    if st.session_state.get("method") not in (None, *names):
        del st.session_state["method"]
    if "method" not in st.session_state:
        st.session_state["method"] = default_method(names)
    name = st.sidebar.selectbox(label, names, key="method", persist_state="session",
                                format_func=lambda n: f"{n} ({methods[n].family})",
                                help="Classical methods need no model; deep methods load a trained network once.")
    st.sidebar.caption(methods[name].summary)
    missing = {n: why for n, why in reasons.items() if why is not None}
    if missing:
        st.sidebar.caption("Not available here: " + "; ".join(f"{n} ({why})" for n, why in missing.items()))
    return methods[name]


