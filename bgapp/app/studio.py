"""The Studio page: pick a photo and a method, tune it live, fix it by clicking, download at full resolution.

The settings and the preview are one ``st.fragment``: moving a slider reruns only that part, so
the redraw costs the method's own time plus drawing three previews, whatever the number of photos
in the session.
"""

from __future__ import annotations

import streamlit as st

from bgapp.app.common import (download_name, export_preview, export_widgets, full_resolution_file, method_picker,
                              photo_picker, photo_sidebar, preview, settings_widgets, show_errors, zip_of_results)
from bgapp.app.fixes import clickable_photo, current_marks, fix_controls, marks_by_photo
from bgapp.app.photos import Photo
from bgapp.core.compose import mask_image
from bgapp.core.errors import BgappError
from bgapp.core.export import suffix
from bgapp.core.methods import Method
from bgapp.core.pipeline import resolve_settings

SHOWN_SIDE = 768
"""The three images are drawn at most this many px: each fills a third of the page (~400-550 px wide), and
a click's redraw costs encoding them and the browser's decoding them; the method and the fixes still work
on the 1024 px working copy, and the downloads on the full photo."""


def studio_page() -> None:
    """Pick a photo and a method, tune it live, download the full-resolution result."""
    photos = photo_sidebar()
    method = method_picker()
    st.title("Cut-out studio")
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
    settings = resolve_settings(method.name, values)
    st.sidebar.subheader("Export")
    export = export_widgets(st.sidebar)
    preset = str(export["preset"])

    mode = fix_controls(photo, method, st)
    marks = current_marks(photo, method)
    with st.spinner(f"Running {method.name}..."):
        result = preview(photo, settings, side=SHOWN_SIDE, marks=marks)
    width, height = result.size
    summary = f"{method.name}: {result.milliseconds:.0f} ms for the preview"
    if result.device:
        summary += f" (network on the {result.device})"
    if result.reused and not marks:  # with marks, the time is the correction's
        summary += ", kept from the last run"
    if result.iou is not None:
        summary += f" · IoU with the exact mask {result.iou:.3f}"
    if marks:
        summary += f" · {len(marks.keep)} keep, {len(marks.remove)} remove{', a box' if marks.box else ''}"
    st.caption(summary + f" · photo {width}x{height}")
    columns = st.columns(3)
    clickable_photo(columns[0], result.photo, photo, method, mode, result.size)
    columns[0].caption("Photo: click to fix" + (f" · same fix on the command line: `{marks.cli_arguments()}`"
                                                 if marks else ""))
    columns[1].image(mask_image(result.mask), caption="Mask (white = product)", width="stretch", output_format="JPEG")
    try:
        shown = export_preview(result, export)
        columns[2].image(shown, caption=f"Export: {preset}", width="stretch", output_format="JPEG")
    except BgappError as error:
        columns[2].warning(str(error))

    st.subheader("Download (full resolution)")
    extension = suffix(export)
    mime = "image/jpeg" if extension == ".jpg" else "image/png"
    cols = st.columns(3)
    cols[0].download_button(f"{preset.capitalize()} {extension[1:].upper()}",
                            lambda: full_resolution_file(photo, settings, export, marks=marks),
                            file_name=download_name(photo, export), mime=mime, on_click="ignore",
                            key="dl_export", type="primary")
    cols[1].download_button("Mask PNG", lambda: full_resolution_file(photo, settings, mask=True, marks=marks),
                            file_name=download_name(photo, mask=True), mime="image/png", on_click="ignore",
                            key="dl_mask")
    cols[2].download_button(f"ZIP of all {len(photos)} photo{'s' if len(photos) != 1 else ''} ({preset})",
                            lambda: zip_of_results(list(photos), settings, export, marks_by_photo(photos, method)),
                            file_name=f"cutouts-{preset}.zip", mime="application/zip", on_click="ignore",
                            key="dl_zip")
