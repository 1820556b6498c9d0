"""The studio's downloads: one primary button for the chosen export, the others one click away.

Each button's file is made when it is clicked (a 24 MP photo's export takes ~1 s, too long to make
on every slider move), by a callable that Streamlit runs in its own thread, outside the browser
session: there ``st.session_state`` is a new, empty session's. So every value the file needs (the
photo's folder and key, the settings, the marks, the other photos) is captured here while the page
runs, and nothing inside the callable reads session state. A failure inside it is written beside
the session's photos and shown on the page at its next run (Streamlit itself shows only "Failed to
generate file for download" under the button, for 5 s).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from bgapp.app.common import full_resolution_file, zip_of_results
from bgapp.app.photos import Photo, photo_source, session_store
from bgapp.core.errors import BgappError
from bgapp.core.export import PRESET_HELP, PRESETS, Export
from bgapp.core.marks import Marks
from bgapp.core.params import ParamValue
from bgapp.core.pipeline import Settings

FAILURES_FILE = "download-failures.json"
LABELS = {"transparent": "Transparent PNG", "white": "White JPEG", "amazon": "Amazon JPEG"}


def export_label(export: Mapping[str, ParamValue]) -> str:
    """ "Transparent PNG", "White JPEG", "Custom JPEG"...: what the file is, in a seller's words."""
    preset = str(export.get("preset", "custom"))
    if preset in LABELS and not export.get("shadow"):
        return LABELS[preset]
    kind = f"{preset.capitalize()}{' with shadow' if export.get('shadow') else ''}"
    return f"{kind} {Export.coerce(export).suffix[1:].upper()}"


def guarded(make: Callable[[], bytes], folder: Path, what: str) -> Callable[[], bytes]:
    """``make`` that, when it fails, writes why into ``folder`` (``download_failures`` shows it) and
    fails on, so Streamlit says so under the button instead of handing over a broken file."""

    def run() -> bytes:
        try:
            return make()
        except Exception as error:
            reason = str(error) if isinstance(error, BgappError) else f"{type(error).__name__}: {error}"
            record_failure(folder, what, reason)
            raise

    return run


def record_failure(folder: Path, what: str, reason: str) -> None:
    failures = read_failures(folder)
    failures.append({"what": what, "reason": reason, "time": time.time()})
    try:
        (folder / FAILURES_FILE).write_text(json.dumps(failures[-5:]))
    except OSError:
        pass


def read_failures(folder: Path) -> list[dict[str, Any]]:
    try:
        failures = json.loads((folder / FAILURES_FILE).read_text())
        return failures if isinstance(failures, list) else []
    except (OSError, ValueError):
        return []


def download_failures(container: Any = st) -> None:
    """The downloads that failed since the last look, one line each, with a button to clear them."""
    folder = session_store().folder
    failures = read_failures(folder)
    if not failures:
        return
    box = container.container(border=True)
    for failure in failures:
        box.markdown(f":red[**The download of {failure.get('what', 'a file')} failed:**] {failure.get('reason', '')}")
    if box.button("Dismiss", key="dismiss-download-failures"):
        (folder / FAILURES_FILE).unlink(missing_ok=True)
        st.rerun()


def download_buttons(
    photo: Photo,
    photos: tuple[Photo, ...],
    settings: Settings,
    export: Mapping[str, ParamValue],
    marks: Marks,
    marks_by_key: Mapping[str, Marks],
    container: Any = st,
) -> None:
    """ "Download" for the chosen export (primary), and a menu with every other file: each preset,
    the mask and the ZIP of all photos. Everything is captured now (see the module's docstring)."""
    folder = session_store().folder
    source = photo_source(photo)
    if not source.exists():
        container.warning(f"{photo.name} is no longer on the server: upload it again to download it.")
        return
    sources = [photo_source(p) for p in photos]
    kept_marks = {key: value for key, value in marks_by_key.items() if value}
    chosen = Export.coerce(export)  # the one value that knows each file's name, suffix and media type

    def button(where: Any, label: str, target: Export, **style: Any) -> None:
        make = lambda: full_resolution_file(source, settings, target, marks=marks)  # noqa: E731
        name = target.file_name(photo.stem)
        where.download_button(
            label,
            guarded(make, folder, name),
            file_name=name,
            mime=target.media_type,
            on_click="ignore",
            width="stretch",
            **style,
        )

    label = export_label(export)
    main, more = container.columns([1, 1])
    button(
        main,
        f"Download {chosen.suffix[1:].replace('jpg', 'jpeg').upper()}",
        chosen,
        key="dl_main",
        type="primary",
        icon=":material/download:",
        help=f"{label} at the photo's full resolution, with your fixes and the settings shown.",
    )
    with more.popover("Other downloads", icon=":material/folder_zip:", width="stretch"):
        for preset in PRESETS:
            if preset == chosen.kind and not chosen.settings.get("shadow"):
                continue  # it is the main button
            button(st, LABELS[preset], Export.of(preset), key=f"dl_{preset}", help=PRESET_HELP[preset])
        button(
            st, "Mask PNG", Export.of(mask=True), key="dl_mask", help="Grey PNG, white = product: for your own editor."
        )
        count = len(sources)
        st.download_button(
            f"ZIP of all {count} photo{'s' if count != 1 else ''} ({label})",
            guarded(lambda: zip_of_results(sources, settings, chosen, kept_marks), folder, "the ZIP"),
            file_name=f"cutouts-{chosen.kind}.zip",
            mime="application/zip",
            on_click="ignore",
            key="dl_zip",
            width="stretch",
            help="Every photo of this session in the chosen export, each with its own fixes; "
            "a photo that fails gets a .FAILED.txt saying why.",
        )
