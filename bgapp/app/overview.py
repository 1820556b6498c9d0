"""The Photos page: every photo of the session with its cut-out and a status, so a batch of 20 can be
checked at a glance and any photo opened in the Studio."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import streamlit as st

from bgapp.app.common import PAGES, method_picker, photo_sidebar, preview, stored_settings
from bgapp.app.fixes import current_marks
from bgapp.app.photos import Photo, session_store
from bgapp.core.errors import BgappError
from bgapp.core.pipeline import resolve_settings

TILE_SIDE = 320
COLUMNS = 4
TILES_PER_SESSION = 60  # small previews kept per session (~0.3 MB each)


def _tile(photo: Photo, method_name: str, values: dict) -> tuple[np.ndarray | None, str]:
    """(cut-out thumbnail or None, status line) of one photo, cached per session and settings."""
    cache = st.session_state.setdefault("_tiles", {})
    marks = current_marks(photo, method_name)  # the Studio's fixes, as the ZIP uses them
    key = (
        photo.key,
        method_name,
        hashlib.sha1(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest(),
        marks.to_json(),
    )
    if key not in cache:
        try:
            result = preview(photo, resolve_settings(method_name, values), side=TILE_SIDE, marks=marks)
            share = float((result.mask >= 0.5).mean())
            status = result.status
            if not result.concerns:
                status += f" · {result.milliseconds:.0f} ms · product {share:.0%} of the frame"
            if marks:
                status += " · fixed by hand"
            cache[key] = (result.cutout, status)
        except BgappError as error:
            cache[key] = (None, f"failed: {error}")
        while len(cache) > TILES_PER_SESSION:
            cache.pop(next(iter(cache)))
    return cache[key]


def photos_page() -> None:
    """A grid of the session's photos, each with its cut-out under the Studio's method and settings."""
    photos = photo_sidebar()
    method = method_picker()
    values = stored_settings(method)
    st.title("All photos")
    st.caption(
        f'{method.name} with your Studio settings. "check" says why a cut-out may be wrong (nothing found, '
        "the background kept, a small thing taken, an unsure network): open those in the Studio. "
        "Refused files are listed in the sidebar with the reason."
    )
    problems = session_store().problems()
    if problems:
        st.warning(f"{len(problems)} file(s) could not be read: " + "; ".join(f"{n} ({r})" for _, n, r in problems))
    progress = st.progress(0.0, text="cutting out...") if len(photos) > 1 else None
    tiles = []
    for start in range(0, len(photos), COLUMNS):
        columns = st.columns(COLUMNS)
        for column, photo in zip(columns, photos[start : start + COLUMNS]):
            cutout, status = _tile(photo, method.name, values)
            tiles.append(status)
            with column.container(border=True):
                if cutout is not None:
                    st.image(cutout, width="stretch", output_format="JPEG")
                (st.error if status.startswith("failed") else st.warning if status.startswith("check") else st.caption)(
                    f"**{photo.name}** · {status}"
                )
                if st.button("Open in the Studio", key=f"open-{photo.key}"):
                    st.session_state["_selected_photo"] = photo.key
                    if "studio" in PAGES:
                        st.switch_page(PAGES["studio"])
        if progress is not None:
            progress.progress(min(1.0, (start + COLUMNS) / len(photos)), text="cutting out...")
    if progress is not None:
        progress.empty()
    flagged = sum(status.startswith(("check", "failed")) for status in tiles)
    if tiles:
        st.caption(f"{len(tiles) - flagged} of {len(tiles)} look right; {flagged} to check.")
