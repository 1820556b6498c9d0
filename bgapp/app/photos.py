"""The session's photos: uploads kept on disk (not in memory), samples rendered on demand, and small
per-session caches of decoded pixels, all bounded.

Why on disk: a 24 MP photo is 5-10 MB as a JPEG but 72 MB decoded; a seller with 25 uploads would
hold 1.8 GB of pixels in the server if uploads lived decoded in memory (the earlier studio kept
~90 MB per upload in a cache shared by every session and never gave it back). Here the uploaded
bytes go to a folder of the session's own under the system's temp folder, a session keeps no photo
decoded at full size (only the few working copies the previews run on, a few MB each), and a
download decodes its photo when it is clicked.

The folder is named by a random token in the page's address (``?s=...``), so a page reload finds
the same photos; anyone with that address could see them, as with any share link, and folders
untouched for ``SESSION_TTL_S`` are deleted. Nothing here ever writes into a user's own files.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import tempfile
import time
from collections import OrderedDict
from collections.abc import MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from bgapp.core.errors import BgappError
from bgapp.core.images import LoadedImage, load_image, resize_longer_side, resize_mask

SESSION_ROOT = Path(tempfile.gettempdir()) / "bgapp-sessions"
SESSION_TTL_S = 6 * 3600
WORKING_PER_SESSION = 4  # working copies (<= 2048 px, <= 12 MB each; 2.4 MB at the default 1024) per session
THUMB_SIDE = 320

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
"""Six studio shots rendered by the project (``scripts/make_samples.py``), shipped as files with their
exact masks: the studio reads them and never imports the lab's renderer."""


@dataclass(frozen=True)
class Photo:
    """A photo the user can work on: a stable key (content hash, or the sample's seed) and its name."""

    key: str
    name: str
    kind: str = "upload"  # "upload" | "sample"

    @property
    def stem(self) -> str:
        """The name results are saved under (``photo.jpg`` -> ``photo``; samples get ``sample-...``)."""
        return Path(self.name).stem.replace("sample: ", "sample-").replace(" ", "-") or "photo"


# --- samples --------------------------------------------------------------------------------------


def sample_photos() -> tuple[Photo, ...]:
    """The built-in samples: studio shots drawn by the project, exact masks known."""
    return tuple(Photo(entry["key"], entry["name"], "sample") for entry in _sample_index())


@lru_cache(maxsize=1)
def _sample_index() -> tuple[dict, ...]:
    try:
        return tuple(json.loads((SAMPLES_DIR / "samples.json").read_text()))
    except (OSError, ValueError):
        return ()  # an install without the samples: the studio opens on the drop zone alone


@lru_cache(maxsize=6)
def _sample(key: str) -> tuple[LoadedImage, np.ndarray]:
    """(photo, exact mask) of one sample, decoded once per server (1200x900, ~4 MB)."""
    name = next((entry["name"] for entry in _sample_index() if entry["key"] == key), key)
    with Image.open(SAMPLES_DIR / f"{key}-mask.png") as mask:
        truth = np.asarray(mask.convert("L"), dtype=np.float32) / 255.0
    return load_image(SAMPLES_DIR / f"{key}.jpg", name=name), truth


# --- the session's uploads ------------------------------------------------------------------------


@dataclass
class Upload:
    name: str
    error: str | None = None  # the one-line reason the loader refused it
    width: int = 0
    height: int = 0


class SessionStore:
    """One browser session's uploads: bytes on disk in ``folder``, an index of names and problems."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        index = folder / "index.json"
        entries = json.loads(index.read_text()) if index.exists() else {}
        self.entries: dict[str, Upload] = {key: Upload(**value) for key, value in entries.items()}

    def _save(self) -> None:
        tmp = self.folder / "index.json.tmp"
        tmp.write_text(json.dumps({k: vars(v) for k, v in self.entries.items()}))
        tmp.replace(self.folder / "index.json")

    def add(self, name: str, data: bytes, decoded: MutableMapping[str, LoadedImage] | None = None) -> str:
        """Keep one uploaded file (the same content twice is kept once); checks that it decodes, and
        hands the decoded photo to ``decoded`` (a cache) so it is not decoded twice."""
        key = hashlib.sha1(data).hexdigest()[:16]
        if key not in self.entries:
            try:
                image = load_image(data, name=name)
                entry = Upload(name, None, *image.size)
                if decoded is not None:
                    decoded[key] = image
            except BgappError as error:
                entry = Upload(name, str(error).removeprefix(f"{name}: "))
            if entry.error is None:
                (self.folder / key).write_bytes(data)
            self.entries[key] = entry
            self._save()
        return key

    def remove(self, key: str) -> None:
        self.entries.pop(key, None)
        (self.folder / key).unlink(missing_ok=True)
        self._save()

    def photos(self) -> list[Photo]:
        return [Photo(key, entry.name) for key, entry in self.entries.items() if entry.error is None]

    def problems(self) -> list[tuple[str, str, str]]:
        """(key, file name, reason) of every refused file."""
        return [(key, entry.name, entry.error) for key, entry in self.entries.items() if entry.error is not None]

    def data(self, key: str) -> bytes:
        return (self.folder / key).read_bytes()


def sweep_old_sessions(now: float | None = None) -> None:
    """Delete session folders nobody touched for ``SESSION_TTL_S`` (their photos and index)."""
    now = now or time.time()
    if not SESSION_ROOT.exists():
        return
    for folder in SESSION_ROOT.iterdir():
        try:
            if folder.is_dir() and now - folder.stat().st_mtime > SESSION_TTL_S:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def session_store() -> SessionStore:
    """This browser session's store; its token lives in the address, so a reload finds it again."""
    store = st.session_state.get("_photo_store")
    if store is None:
        token = str(st.query_params.get("s", ""))
        if not token.isalnum() or len(token) < 16:  # never a path from the address bar, only our tokens
            token = secrets.token_hex(16)
            st.query_params["s"] = token
            sweep_old_sessions()
        store = SessionStore(SESSION_ROOT / token)
        st.session_state["_photo_store"] = store
        restore_choices(store)  # a reload: the photo, marks, method and settings the seller left
    if st.query_params.get("s") != store.folder.name:
        st.query_params["s"] = store.folder.name  # a page change clears the address's parameters: put it back
    store.folder.touch(exist_ok=True)
    return store


# --- what the seller chose, kept beside the photos ------------------------------------------------

KEPT_KEYS = ("_selected_photo", "method", "marks", "show_samples", "show_pet_models", "compare_methods")
KEPT_PREFIXES = ("setting.", "export.")
CHOICES_FILE = "choices.json"


def _choices() -> dict:
    """The session-state entries a reload must bring back: the selected photo, each photo's marks,
    the method, every setting and the export (widget values), as JSON-able values."""
    state = st.session_state
    kept = {key: state[key] for key in KEPT_KEYS if key in state}
    kept.update(
        {key: state[key] for key in list(state.keys()) if isinstance(key, str) and key.startswith(KEPT_PREFIXES)}
    )
    return {key: value for key, value in kept.items() if isinstance(value, (str, int, float, bool, list, dict))}


def remember_choices() -> None:
    """Write the seller's choices beside the session's photos when they changed (a few hundred bytes),
    so a page reload, which starts a new Streamlit session, finds them again (``restore_choices``)."""
    store = st.session_state.get("_photo_store")
    if store is None:
        return
    text = json.dumps(_choices(), sort_keys=True)
    if st.session_state.get("_choices_written") == text:
        return
    tmp = store.folder / f"{CHOICES_FILE}.tmp"
    try:
        tmp.write_text(text)
        tmp.replace(store.folder / CHOICES_FILE)
        st.session_state["_choices_written"] = text
    except OSError:
        pass  # a full or read-only temp folder: the choices live until the reload, nothing else is lost


def restore_choices(store: SessionStore) -> None:
    """Put the choices written by ``remember_choices`` back into this (new) session, before any widget
    is drawn; what the session already holds wins, and a damaged file is ignored."""
    try:
        kept = json.loads((store.folder / CHOICES_FILE).read_text())
    except (OSError, ValueError):
        return
    if not isinstance(kept, dict):
        return
    for key, value in kept.items():
        if (key in KEPT_KEYS or key.startswith(KEPT_PREFIXES)) and key not in st.session_state:
            st.session_state[key] = value
    st.session_state["_choices_written"] = json.dumps(kept, sort_keys=True)


def _bounded(name: str, limit: int) -> OrderedDict:
    cache = st.session_state.get(name)
    if cache is None:
        cache = st.session_state[name] = OrderedDict()
    while len(cache) > limit:
        cache.popitem(last=False)
    return cache


def decoded_cache() -> OrderedDict:
    """A one-photo hand-over: the decode that checked an upload serves its first preview, then goes."""
    return _bounded("_decoded", 1)


@dataclass(frozen=True)
class PhotoSource:
    """Where a photo's full-resolution pixels are, captured while the page script runs.

    Why: a download's callable runs later in Streamlit's own thread, outside the browser session,
    where ``st.session_state`` and the address are a new, empty session's (an upload's download
    then looked in a new, empty folder and no file ever arrived). Everything it needs is captured
    here, as plain values, when the button is built."""

    photo: Photo
    folder: Path | None  # the session's store folder (uploads); None for the samples

    def exists(self) -> bool:
        return self.folder is None or (self.folder / self.photo.key).exists()

    def load(self) -> LoadedImage:
        """The full-resolution photo, decoded from the store (or the samples' render cache)."""
        if self.folder is None:
            return _sample(self.photo.key)[0]
        path = self.folder / self.photo.key
        if not path.exists():
            raise BgappError(
                f"{self.photo.name} is no longer on the server (a session's photos are kept "
                f"{SESSION_TTL_S // 3600} h): upload it again"
            )
        return load_image(path.read_bytes(), name=self.photo.name)


def photo_source(photo: Photo) -> PhotoSource:
    """The photo's ``PhotoSource`` in this session (call it while the page runs, not in a callback thread)."""
    return PhotoSource(photo, None if photo.kind == "sample" else session_store().folder)


def photo_image(photo: Photo) -> LoadedImage:
    """The photo's full-resolution pixels: samples from the render cache; uploads decoded from this
    session's store each time (a new working size) and not kept, because a session holding 24 MP
    photos decoded is what made the server grow by ~150 MB per visitor."""
    if photo.kind != "sample":
        handed = st.session_state.get("_decoded", {}).pop(photo.key, None)
        if handed is not None:
            return handed
    return photo_source(photo).load()


def photo_truth(photo: Photo) -> np.ndarray | None:
    """The exact mask, known for the rendered samples only."""
    return _sample(photo.key)[1] if photo.kind == "sample" else None


@dataclass(frozen=True)
class Working:
    """What the live preview needs of a photo: the working copy, the input's alpha at that size
    (None when the photo is opaque) and the photo's full size. At most 2048 px: a few MB."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    size: tuple[int, int]


def working_copy(photo: Photo, work_size: int) -> Working:
    """The photo at the working size, kept for the last few photos of this session so a slider move
    neither decodes nor shrinks a 24 MP photo again; exactly the copy the full-resolution download
    segments."""
    cache = _bounded("_working", WORKING_PER_SESSION)
    key = (photo.key, work_size)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    image = photo_image(photo)
    rgb = resize_longer_side(image.rgb, work_size)
    alpha = None if image.alpha is None else resize_mask(image.alpha, rgb.shape[:2])
    cache[key] = Working(rgb, alpha, image.size)
    del image
    _bounded("_working", WORKING_PER_SESSION)
    return cache[key]
