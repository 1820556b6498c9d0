"""What the studio's pages share: the photo list and picker, widgets built from parameter
declarations, the preview, and the downloads.

All image work is the core's (``pipeline``); this module turns declarations into widgets and errors
into messages. Session state holds what the user chose (widget values, the selected photo) and the
session's bounded caches (``photos.py``); uploads live on disk, so memory stays flat however many
photos a seller brings.
"""

from __future__ import annotations

import ctypes
import io
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from bgapp.app.photos import (
    Photo,
    PhotoSource,
    decoded_cache,
    photo_truth,
    remember_choices,
    sample_photos,
    session_store,
    working_copy,
)
from bgapp.core.checks import iou as mask_iou
from bgapp.core.checks import mask_concerns
from bgapp.core.compose import compose_on_checkerboard
from bgapp.core.errors import BgappError
from bgapp.core.export import EXPORT_KINDS, EXPORT_PARAMS, PRESET_HELP, Export, export_settings, frame
from bgapp.core.images import SUPPORTED, resize_longer_side, resize_mask
from bgapp.core.marks import Marks
from bgapp.core.methods import Method, all_methods, default_method
from bgapp.core.params import Param, ParamValue
from bgapp.core.pipeline import (
    STEP_PARAMS,
    Result,
    Settings,
    apply_marks,
    process,
    segment_working,
    step_defaults,
    unique_stems,
)

PREVIEW_SIDE = 1024
ROOT = Path(__file__).resolve().parents[2]
PAGES: dict[str, Any] = {}  # url path -> st.Page, filled by streamlit_app.py (for "open in the Studio")


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, Windows, musl): nothing to tune
        return None


_LIBC = _libc()
if _LIBC is not None:
    # glibc keeps freed blocks below a moving threshold in its heap, so a server that decoded a few
    # 24 MP photos looks as big afterwards as at its peak. A fixed 1 MB mmap threshold hands every
    # large array back to the system when it is freed.
    _LIBC.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD


def release_memory() -> None:
    """Give the heap's free pages back to the system (cheap; called once per page run), so memory
    freed by closed sessions shows up as a smaller server, not as a heap that never shrinks."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def show_errors(action: Callable[[], None]) -> None:
    """Run a page; a user-caused error becomes its one-line message, anything else a short apology, never a traceback."""
    release_memory()
    try:
        action()
        remember_choices()  # a reload brings back the photo, marks, method and settings
    except BgappError as error:
        st.error(str(error))
    except Exception as error:  # noqa: BLE001 - the page must stay usable
        st.error(f"Something went wrong ({type(error).__name__}: {error}). Try other settings or another photo.")


# --- photos ---------------------------------------------------------------------------------------


def photo_sidebar(main_drop_zone: bool = False) -> list[Photo]:
    """Sidebar: the uploader, each refused file with its reason, and the samples switch; with
    ``main_drop_zone``, a large drop zone in the page too while the session has no photos of its own
    (a first-time seller looks at the page, not the sidebar). Returns the photos to work on: the
    seller's own first; the samples step aside once there are any."""
    store = session_store()
    st.sidebar.header("Photos")
    files = list(
        st.sidebar.file_uploader(
            "Upload product photos",
            type=None,
            accept_multiple_files=True,
            key="uploads",
            help=f"{SUPPORTED}. Your photos stay in this browser session (on this server) only.",
        )
        or []
    )
    caption = st.sidebar.empty()  # filled below, once this run's uploads are in
    if main_drop_zone and not store.photos():
        files += list(
            st.file_uploader(
                "Drop your product photos here: each one is cut out at once (the sample photos below show how); "
                "then download a transparent PNG, a pure-white JPEG or a marketplace image.",
                type=None,
                accept_multiple_files=True,
                key="uploads_main",
                help=SUPPORTED,
            )
            or []
        )
    ingested: set[str] = st.session_state.setdefault("_ingested", set())
    fresh = [file for file in files if file.file_id not in ingested]
    if fresh:  # each file once: the uploader keeps listing it, the store keeps it across pages
        had_photos = bool(store.photos())
        keys = [store.add(file.name, file.getvalue(), decoded_cache()) for file in fresh]
        ingested.update(file.file_id for file in fresh)
        good = [key for key in keys if store.entries[key].error is None]
        if good:
            st.session_state["_selected_photo"] = good[-1]  # the photo just uploaded is the one shown
            if not had_photos:
                st.session_state["show_samples"] = False  # samples step aside (still one click away)
                if main_drop_zone:
                    st.rerun()  # draw the page anew without the drop zone, the new photo shown
    for key, name, reason in store.problems():
        box = st.sidebar.container(border=True)
        box.markdown(f":red[**{name}** was not added:] {reason}")
        if box.button("Dismiss", key=f"dismiss-{key}"):
            store.remove(key)
            st.rerun()
    uploads = store.photos()
    if uploads:  # after a reload the uploader is empty, but the photos are still here
        caption.caption(f"{len(uploads)} photo{'s' if len(uploads) != 1 else ''} of yours in this session.")
    if "show_samples" not in st.session_state:
        st.session_state["show_samples"] = not uploads
    show = st.sidebar.toggle(
        "Show the sample photos",
        key="show_samples",
        help="Six studio shots drawn by the project, with exact masks (the IoU is shown).",
    )
    return [*uploads, *(sample_photos() if show or not uploads else ())]


def _remember_photo(widget: str) -> None:
    st.session_state["_selected_photo"] = st.session_state[widget]


def photo_picker(photos: list[Photo], container: Any = st) -> Photo:
    """The photo select box; the choice is kept across reruns and pages (and follows a new upload)."""
    keys = [photo.key for photo in photos]
    names = {photo.key: photo.name + ("" if photo.kind == "sample" else "  (yours)") for photo in photos}
    selected = st.session_state.get("_selected_photo")
    if selected not in keys:
        selected = keys[0]
    st.session_state["_selected_photo"] = selected
    st.session_state["photo_choice"] = selected  # the widget shows what was chosen anywhere
    container.selectbox(
        "Photo", keys, format_func=names.get, key="photo_choice", on_change=_remember_photo, args=("photo_choice",)
    )
    return photos[keys.index(selected)]


# --- settings widgets -----------------------------------------------------------------------------


def widget_key(method: str, param: str) -> str:
    return f"setting.{method}.{param}"


def param_widget(
    param: Param, key: str, default: ParamValue, container: Any, others: Mapping[str, ParamValue] | None = None
) -> ParamValue:
    """One widget for one declaration: a slider for numbers, a select box for choices, a toggle for
    flags, a colour picker for colours. A setting that has no effect with the ``others`` is shown
    disabled, with the reason in its help."""
    if key not in st.session_state:
        st.session_state[key] = default
    why = param.inactive(others or {})
    kwargs = {
        "key": key,
        "help": param.help + (f" (Not used now: {why}.)" if why else ""),
        "persist_state": "session",
        "disabled": why is not None,
    }
    if param.kind == "colour":
        return container.color_picker(param.title, **kwargs)
    if param.kind == "bool":
        return container.toggle(param.title, **kwargs)
    if param.kind == "choice":
        return container.selectbox(param.title, param.choices, **kwargs)
    assert param.min is not None and param.max is not None  # Param refuses a number setting without a range
    if param.kind == "int":
        step = int(param.step or 1)
        return container.slider(param.title, int(param.min), int(param.max), step=step, **kwargs)
    return container.slider(param.title, float(param.min), float(param.max), step=float(param.step or 0.1), **kwargs)


def settings_widgets(method: Method, container: Any) -> dict[str, ParamValue]:
    """The method's own widgets, then the shared steps' (clean-up) in an expander; returns the values."""
    current = stored_settings(method)
    values = {
        p.name: param_widget(p, widget_key(method.name, p.name), p.default, container, current)
        for p in method.params
        if not p.expert
    }
    defaults = step_defaults(method)
    with container.expander("Expert: more settings, clean-up, working size and edges"):
        for param in method.params:
            if param.expert:
                values[param.name] = param_widget(
                    param, widget_key(method.name, param.name), param.default, st, current
                )
        for param in STEP_PARAMS:
            values[param.name] = param_widget(
                param, widget_key(method.name, param.name), defaults[param.name], st, current
            )
    return values


def stored_settings(method: Method) -> dict[str, ParamValue]:
    """The values this session last chose for ``method`` (defaults where it never touched a widget)."""
    defaults = {**{p.name: p.default for p in method.params}, **step_defaults(method)}
    return {name: st.session_state.get(widget_key(method.name, name), value) for name, value in defaults.items()}


def export_widgets(container: Any) -> dict[str, ParamValue]:
    """The export picker; ``custom`` shows every framing setting, built from ``EXPORT_PARAMS``."""
    names = list(EXPORT_KINDS)
    preset = container.selectbox(
        "Export",
        names,
        key="export.preset",
        persist_state="session",
        help="What the download looks like. " + " ".join(f"{n}: {PRESET_HELP[n]}" for n in names),
    )
    overrides: dict[str, ParamValue] = {}
    if preset == "custom":
        current = {p.name: st.session_state.get(f"export.{p.name}", p.default) for p in EXPORT_PARAMS}
        with container.expander("Framing", expanded=True):
            for param in EXPORT_PARAMS:
                overrides[param.name] = param_widget(param, f"export.{param.name}", param.default, st, current)
    elif container.toggle("Soft shadow under the product", key="export.preset_shadow", persist_state="session"):
        overrides["shadow"] = True
    return {"preset": preset, **export_settings(preset, overrides)}


def method_picker(label: str = "Method") -> Method:
    """The method select box: product methods first; the pet models (which find pets, not products)
    only when asked for, labelled as such; methods that cannot run here are listed with the reason."""
    registry = all_methods()
    reasons = {n: m.available() for n, m in registry.items()}  # file checks: once per rerun
    runnable = {n: m for n, m in registry.items() if reasons[n] is None}
    pets = st.sidebar.toggle(
        "Also list the pet models",
        key="show_pet_models",
        persist_state="session",
        help="Networks trained on pet photos, reproducing the report this project grew "
        "from. They find pets, not products: a product photo gets an empty cut-out.",
    )
    names = [n for n, m in runnable.items() if m.made_for == "product" or pets]
    if st.session_state.get("method") not in (None, *names):
        del st.session_state["method"]
    if "method" not in st.session_state:
        st.session_state["method"] = default_method(names)

    def shown(name: str) -> str:
        method = runnable[name]
        return f"{name} (pet model)" if method.made_for == "pets" else f"{name} ({method.family})"

    name = st.sidebar.selectbox(
        label,
        names,
        key="method",
        persist_state="session",
        format_func=shown,
        help="Classical methods need no model; deep methods run a trained network.",
    )
    st.sidebar.caption(runnable[name].summary)
    if runnable[name].licence:
        st.sidebar.caption(runnable[name].licence)
    missing = {n: why for n, why in reasons.items() if why is not None}
    if missing:  # names only: the why and the command are one click away, not half the sidebar
        fetchable = [n for n, why in missing.items() if "models fetch" in why]
        other = [f"{n} ({why})" for n, why in missing.items() if "models fetch" not in why]
        if fetchable:
            st.sidebar.caption("Not installed: " + ", ".join(fetchable) + " (fetch them on the Models page)")
        if other:
            st.sidebar.caption("Not available here: " + "; ".join(other))
    return runnable[name]


# --- running the pipeline -------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewResult:
    photo: np.ndarray
    mask: np.ndarray
    milliseconds: float
    iou: float | None
    device: str | None = None  # what ran a network ("CPU", "GPU (CUDA)"); None for classical methods
    size: tuple[int, int] = (0, 0)  # the photo's full (width, height)
    reused: bool = False  # the method's mask was kept from an earlier run with these settings
    concerns: tuple[str, ...] = ()  # why a seller should check this cut-out (``core.checks``); empty: it looks right
    ran: str = ""  # what ran, in words (``Method.ran``: auto names its networks and steps)

    @property
    def cutout(self) -> np.ndarray:
        """The cut-out on a checkerboard, drawn only where a page shows it (not on every slider move)."""
        return compose_on_checkerboard(self.photo, self.mask)

    @property
    def status(self) -> str:
        """ "done", or "check: <reasons>" (what the All photos grid and the Studio say)."""
        return "check: " + "; ".join(self.concerns) if self.concerns else "done"


def preview(photo: Photo, settings: Settings, side: int = PREVIEW_SIDE, marks: Marks | None = None) -> PreviewResult:
    """The live preview: the method, clean-up and the user's ``marks`` (photo pixels) on the same
    working copy the download uses (so a kernel size means the same in both), shown at most ``side``
    px, with its time, the reasons to check it, and the IoU against the exact mask when it is known."""
    loaded = settings.method.prepare(settings.method_params)  # a network loads once, outside the timing
    working = working_copy(photo, int(settings.step_params["work_size"]))
    work = working.rgb
    start = time.perf_counter()
    mask, concerns, ran, reused = _method_mask(photo, work, settings)
    if marks:  # a click costs the correction only: the method's mask is kept from the last run
        mask = apply_marks(work, mask, marks, working.size[0])
        concerns = tuple(mask_concerns(mask))  # the seller has looked: the network's doubt no longer counts
    milliseconds = (time.perf_counter() - start) * 1000.0
    small = resize_longer_side(work, side)
    mask = resize_mask(mask, small.shape[:2])
    if working.alpha is not None:
        mask = mask * resize_mask(working.alpha, small.shape[:2])
    truth = photo_truth(photo)
    iou = None if truth is None else mask_iou(mask, resize_mask(truth, small.shape[:2]))
    return PreviewResult(
        small, mask, milliseconds, iou, getattr(loaded, "device", None), working.size, reused, concerns, ran
    )


MASKS_KEPT = 3  # method masks kept per session (working size, ~3 MB each), so clicks skip the method


def _method_mask(photo: Photo, work: np.ndarray, settings: Settings) -> tuple[np.ndarray, tuple[str, ...], str, bool]:
    """The method's cleaned mask on the working copy, the reasons to check it, what ran, and whether it was
    kept from an earlier run: computed once per photo and settings, so that a click, an undo or an
    export change does not run the method again."""
    key = (
        photo.key,
        settings.method.name,
        tuple(sorted((k, str(v)) for k, v in settings.all.items())),
        _networks_here(settings.method),
    )
    kept: dict = st.session_state.setdefault("method_masks", {})
    if key in kept:
        kept[key] = kept.pop(key)  # most recent last
        return (*kept[key], True)
    _, mask, _ = segment_working(work, settings)
    probability = settings.method.probability(work, settings.method_params)  # the network's last answer: no rerun
    concerns = (*mask_concerns(mask, probability), *settings.method.reasons_to_check(work, settings.method_params))
    kept[key] = (mask, concerns, settings.method.ran(work, settings.method_params))
    while len(kept) > MASKS_KEPT:
        kept.pop(next(iter(kept)))
    return (*kept[key], False)


def _networks_here(method: Method) -> tuple[str, ...]:
    """For ``auto``: the networks it can build on now (a network fetched from the page changes its answer,
    so a mask kept from before the fetch is not reused); empty for every other method."""
    if method.name != "auto":
        return ()
    from bgapp.core.methods.auto import plan  # auto's own choice, not a second copy of its rule

    return tuple(m.name for m in plan("best") if m is not None)


def full_resolution(
    source: PhotoSource,
    settings: Settings,
    export: Export | Mapping[str, ParamValue] | str = "transparent",
    mask: bool = False,
    marks: Marks | None = None,
) -> Result:
    """One download at the photo's full resolution, through the one pipeline (with the user's fixes).
    Touches no session state: it runs in Streamlit's download thread (``PhotoSource``)."""
    return process(source.load(), settings, export, mask, marks)


def full_resolution_file(
    source: PhotoSource,
    settings: Settings,
    export: Export | Mapping[str, ParamValue] | str = "transparent",
    mask: bool = False,
    marks: Marks | None = None,
) -> bytes:
    """Bytes of one download at the photo's full resolution: the chosen export, or the mask."""
    return full_resolution(source, settings, export, mask, marks).data


def download_name(photo: Photo, export: Mapping[str, ParamValue] | str = "transparent", mask: bool = False) -> str:
    """The file name of a download: the same rule as the command line's (``photo-white.jpg`` ...)."""
    return Export.coerce(export, mask).file_name(photo.stem)


def zip_of_results(
    sources: list[PhotoSource],
    settings: Settings,
    export: Export | Mapping[str, ParamValue] | str = "transparent",
    marks: Mapping[str, Marks] | None = None,
) -> bytes:
    """A ZIP with the chosen export of every photo, named as ``cut`` names its files (repeated names
    numbered), each with its own fixes (``marks`` by photo key). A photo that fails does not fail the
    ZIP: it gets ``<name>.FAILED.txt`` saying why, and ``FAILED.txt`` lists every such photo."""
    buffer = io.BytesIO()
    stems = unique_stems([source.photo.stem for source in sources])
    failed: list[str] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for source, stem in zip(sources, stems):
            try:
                result = full_resolution(source, settings, export, marks=(marks or {}).get(source.photo.key))
                archive.writestr(result.file_name(stem), result.data)
            except Exception as error:  # noqa: BLE001 - one photo must not cost the seller the others
                reason = str(error) if isinstance(error, BgappError) else f"{type(error).__name__}: {error}"
                archive.writestr(f"{stem}.FAILED.txt", f"{source.photo.name}: {reason}\n")
                failed.append(f"{source.photo.name}: {reason}")
        if failed:
            archive.writestr(
                "FAILED.txt",
                f"{len(failed)} of {len(sources)} photos could not be cut out:\n" + "\n".join(failed) + "\n",
            )
    return buffer.getvalue()


def export_preview(result: PreviewResult, export: Mapping[str, ParamValue]) -> np.ndarray:
    """The chosen export drawn at preview size (transparency shown as a checkerboard)."""
    light = {**export, "size": 0, "min_size": 0}
    pixels = frame(result.photo, result.mask, light).pixels
    if pixels.shape[2] == 4:
        return compose_on_checkerboard(pixels[..., :3], pixels[..., 3].astype(np.float32) / 255.0)
    return pixels
