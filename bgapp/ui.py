"""Streamlit page helpers for ``streamlit_app.py``: widgets built from parameter declarations, cached work.

All image work is the core's (``pipeline``, ``compose``, ``images``); this module only turns
declarations into widgets, photos into thumbnails, and errors into messages. Session state holds
only what the user chose (widget values); photos live in Streamlit's per-session uploader and in
content-keyed caches, so two browser sessions never see each other's photos or settings.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import streamlit as st

from . import synth
from .compose import compose_on_checkerboard, compose_on_colour, compose_transparent, mask_image
from .errors import BgappError
from .images import LoadedImage, encode_jpeg, encode_png, load_image, resize_longer_side, resize_mask
from .deep.presets import model_files
from .methods import Method, all_methods, default_method
from .export import EXPORT_PARAMS, PRESET_HELP, encode, export_settings, frame, suffix
from .export import PRESETS as EXPORT_PRESETS
from .metrics import binary_scores
from .params import Param, ParamValue
from .pipeline import STEP_PARAMS, Settings, cut_out, resolve_settings, segment_working, step_defaults

PREVIEW_SIDE = 1024
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "tif", "tiff", "bmp"]
ROOT = Path(__file__).resolve().parents[1]


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


def preview(photo: Photo, settings: Settings) -> PreviewResult:
    """The method on the preview copy (what live tuning redraws), with its time and IoU when the truth is known."""
    small = resize_longer_side(photo.image.rgb, PREVIEW_SIDE)
    settings.method.prepare(settings.method_params)  # a network loads once, outside the timing
    start = time.perf_counter()
    _, mask, _ = segment_working(small, settings)
    milliseconds = (time.perf_counter() - start) * 1000.0
    mask = resize_mask(mask, small.shape[:2])
    if photo.image.alpha is not None:
        mask = mask * resize_mask(photo.image.alpha, small.shape[:2])
    iou = None
    if photo.truth is not None:
        iou = binary_scores(mask, resize_mask(photo.truth, small.shape[:2]))["iou"]
    return PreviewResult(small, mask, compose_on_checkerboard(small, mask), milliseconds, iou)


def full_resolution_file(photo: Photo, settings: Settings, export: dict[str, ParamValue] | None = None,
                         mask: bool = False) -> bytes:
    """Bytes of one download at the photo's full resolution: the chosen export, or the mask."""
    result = cut_out(photo.image, settings)
    if mask:
        return encode_png(mask_image(result.alpha))
    export = export or export_settings("transparent")
    return encode(frame(result.colours, result.alpha, export), export)


def zip_of_results(photos: list[Photo], settings: Settings, export: dict[str, ParamValue] | None = None) -> bytes:
    """A ZIP with the chosen export of every photo (names made unique); a photo that fails gets a .txt saying why."""
    export = export or export_settings("transparent")
    buffer = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for photo in photos:
            stem = file_stem(photo) or "photo"
            name, count = stem, 1
            while name in used:
                count += 1
                name = f"{stem}-{count}"
            used.add(name)
            try:
                archive.writestr(f"{name}{suffix(export)}", full_resolution_file(photo, settings, export))
            except BgappError as error:
                archive.writestr(f"{name}.FAILED.txt", str(error))
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


# --- pages ----------------------------------------------------------------------------------------

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


def studio_page() -> None:
    """Pick a photo and a method, tune it live, download the full-resolution result."""
    photos = photo_sidebar()
    method = method_picker()
    st.sidebar.subheader(f"{method.name} settings")
    values = settings_widgets(method, st.sidebar)
    settings = resolve_settings(method.name, values)

    st.sidebar.subheader("Export")
    export = export_widgets(st.sidebar)
    preset = str(export.pop("preset"))

    st.title("Cut-out studio")
    names = [p.name for p in photos]
    chosen = st.selectbox("Photo", range(len(photos)), format_func=lambda i: names[i], key="photo_index")
    photo = photos[min(int(chosen or 0), len(photos) - 1)]
    with st.spinner(f"Running {method.name}..."):
        result = preview(photo, settings)
    width, height = photo.image.size
    summary = f"{method.name}: {result.milliseconds:.0f} ms on the {max(result.photo.shape[:2])} px preview"
    if result.iou is not None:
        summary += f" · IoU with the exact mask {result.iou:.3f}"
    st.caption(summary + f" · photo {width}x{height}")
    columns = st.columns(3)
    columns[0].image(result.photo, caption="Photo", width="stretch")
    columns[1].image(mask_image(result.mask), caption="Mask (white = product)", width="stretch")
    try:
        shown = export_preview(result, export)
        columns[2].image(shown, caption=f"Export: {preset}", width="stretch")
    except BgappError as error:
        columns[2].warning(str(error))

    st.subheader("Download (full resolution)")
    stem = file_stem(photo)
    extension = suffix(export)
    mime = "image/jpeg" if extension == ".jpg" else "image/png"
    cols = st.columns(3)
    cols[0].download_button(f"{preset.capitalize()} {extension[1:].upper()}",
                            lambda: full_resolution_file(photo, settings, export),
                            file_name=f"{stem}{extension}", mime=mime, on_click="ignore", key="dl_export",
                            type="primary")
    cols[1].download_button("Mask PNG", lambda: full_resolution_file(photo, settings, mask=True),
                            file_name=f"{stem}-mask.png", mime="image/png", on_click="ignore", key="dl_mask")
    cols[2].download_button(f"ZIP of all {len(photos)} photos ({preset})",
                            lambda: zip_of_results(photos, settings, export),
                            file_name=f"cutouts-{preset}.zip", mime="application/zip", on_click="ignore",
                            key="dl_zip")


def compare_page() -> None:
    """Several methods side by side on one photo, each with the settings chosen for it in the studio."""
    photos = photo_sidebar()
    methods = all_methods()
    st.title("Compare methods")
    names = [p.name for p in photos]
    chosen = st.selectbox("Photo", range(len(photos)), format_func=lambda i: names[i], key="compare_photo")
    photo = photos[min(int(chosen or 0), len(photos) - 1)]
    available = [n for n, m in methods.items() if m.available() is None]
    picked = st.multiselect("Methods", available, default=[n for n in ("threshold", "meanshift", "grabcut", "unet-product")
                                                             if n in available],
                            key="compare_methods", persist_state="session",
                            help="Each method uses the settings you gave it on the Studio page.")
    if not picked:
        st.info("Pick at least one method.")
        return
    for name in picked:
        method = methods[name]
        try:
            result = preview(photo, resolve_settings(name, stored_settings(method)))
        except BgappError as error:
            st.error(f"{name}: {error}")
            continue
        line = f"**{name}** · {result.milliseconds:.0f} ms"
        if result.iou is not None:
            line += f" · IoU {result.iou:.3f}"
        st.markdown(line)
        columns = st.columns(3)
        columns[0].image(result.photo, width="stretch")
        columns[1].image(mask_image(result.mask), width="stretch")
        columns[2].image(result.cutout, width="stretch")


def models_page() -> None:
    """Each deep model's card, training curves and test metrics."""
    import plotly.graph_objects as go

    st.title("Models")
    deep = [m for m in all_methods().values() if m.family == "deep"]
    if not deep:
        st.info("No deep models are installed yet: only the classical methods are available.")
        return
    for method in deep:
        st.header(method.name)
        files = model_files(method.name)
        card, history = files["card"], files["history"]
        if card.exists():
            st.markdown(card.read_text())
        else:
            st.warning("No model card found.")
        if history.exists():
            epochs = json.loads(history.read_text())
            figure = go.Figure()
            for key in sorted({k for e in epochs for k in e if k != "epoch"}):
                figure.add_trace(go.Scatter(x=[e["epoch"] for e in epochs], y=[e.get(key) for e in epochs],
                                            mode="lines+markers", name=key))
            figure.update_layout(xaxis_title="epoch", height=360, margin={"t": 30})
            st.plotly_chart(figure, key=f"history-{method.name}")


def benchmark_page() -> None:
    """Quality against time for every method, from ``results/bench.json`` (written by ``python -m bgapp bench``)."""
    import plotly.graph_objects as go

    st.title("Benchmark")
    path = ROOT / "results" / "bench.json"
    if not path.exists():
        st.info("No benchmark yet: run `python -m bgapp bench --out results`.")
        return
    report = json.loads(path.read_text())
    rows = []
    for name, entry in report["methods"].items():
        for dataset, scores in entry.get("quality", {}).items():
            rows.append((name, dataset, scores.get("iou"), entry["speed"].get("mp12_ms"), entry["speed"].get("preview_ms")))
    datasets = sorted({r[1] for r in rows})
    dataset = st.selectbox("Images", datasets, key="bench_dataset")
    speed_key = st.radio("Time", ["mp12_ms", "preview_ms"], horizontal=True, key="bench_speed",
                         format_func=lambda k: {"mp12_ms": "12 MP photo", "preview_ms": "1024 px preview"}[k])
    chosen = [r for r in rows if r[1] == dataset and r[2] is not None]
    times = [r[3] if speed_key == "mp12_ms" else r[4] for r in chosen]
    scatter = go.Figure(go.Scatter(x=times, y=[r[2] for r in chosen], mode="markers+text",
                                   text=[r[0] for r in chosen], textposition="top center"))
    scatter.update_layout(xaxis_type="log", xaxis_title=f"time (ms, log scale): {speed_key}", yaxis_title="IoU",
                          height=420, margin={"t": 30})
    st.plotly_chart(scatter, key="bench-scatter")
    bars = go.Figure()
    for ds in datasets:
        subset = [r for r in rows if r[1] == ds]
        bars.add_trace(go.Bar(name=ds, x=[r[0] for r in subset], y=[r[2] for r in subset]))
    bars.update_layout(barmode="group", yaxis_title="IoU", height=360, margin={"t": 30})
    st.plotly_chart(bars, key="bench-bars")
    table = ROOT / "results" / "bench.md"
    if table.exists():
        st.markdown(table.read_text())
