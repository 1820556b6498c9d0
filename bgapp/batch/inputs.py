"""What a batch reads: a folder (recursively), a glob, or a CSV/Parquet manifest, local or on any
filesystem pyarrow opens; each photo keyed by its path relative to the input (what names its result)."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from bgapp.core.errors import BgappError
from bgapp.core.images import EXTENSIONS

MANIFEST_SUFFIXES = (".csv", ".parquet", ".pq")
PHOTO_SUFFIXES = frozenset(f".{extension}" for extension in EXTENSIONS)


@dataclass(frozen=True)
class InputItem:
    """One photo to cut out: ``key`` is its path relative to the input (what names its result),
    ``source`` what to open: a local path, or a URI pyarrow opens (``s3://bucket/shots/a.jpg``)."""

    key: str
    source: str


@dataclass(frozen=True)
class Listing:
    """The photos found, and the files passed over (not photos by their extension, or inside OUT)."""

    items: list[InputItem]
    ignored: list[str]


# --- listing the inputs -------------------------------------------------------------------------


def is_uri(text: str) -> bool:
    """``s3://...``, ``gs://...``, ``file://...``: anything pyarrow's ``FileSystem.from_uri`` takes."""
    head, sep, _ = text.partition("://")
    return bool(sep) and head.isalnum() and len(head) > 1


def list_inputs(spec: str, out_dir: Path, path_column: str = "path") -> Listing:
    """The photos named by ``spec``: a folder (recursive), a glob, or a CSV/Parquet manifest with a
    ``path_column``; local, or any filesystem pyarrow opens. Sorted by key, so runs are repeatable."""
    local = None if is_uri(spec) else Path(spec)
    if spec.lower().endswith(MANIFEST_SUFFIXES) and (local is None or local.is_file()):
        listing = _from_manifest(spec, path_column)
    elif local is not None and glob.has_magic(spec):
        listing = _from_glob(spec, out_dir)
    elif local is not None:
        if not local.exists():
            raise BgappError(f"{spec}: no such folder, file or manifest")
        if local.is_file():
            listing = Listing([InputItem(local.name, str(local))], [])
        else:
            listing = _from_local_folder(local, out_dir)
    else:
        listing = _from_remote_folder(spec)
    if not listing.items:
        raise BgappError(f"{spec}: no photos found ({', '.join(sorted(PHOTO_SUFFIXES))})")
    return listing


def _is_photo(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in PHOTO_SUFFIXES


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _from_local_folder(folder: Path, out_dir: Path) -> Listing:
    """Every photo under ``folder``, hidden files and folders and the OUT folder itself left out
    (a second run must not take the first run's results for photos)."""
    items: list[str] = []
    ignored: list[str] = []
    out_resolved = out_dir.resolve()
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and Path(root, d).resolve() != out_resolved)
        for name in files:
            if name.startswith("."):
                continue
            key = Path(root, name).relative_to(folder).as_posix()
            (items if _is_photo(name) else ignored).append(key)
    return Listing([InputItem(key, str(folder / key)) for key in sorted(items)], sorted(ignored))


def _from_glob(pattern: str, out_dir: Path) -> Listing:
    """Files matching ``pattern`` (``**`` recurses); keys are relative to the pattern's fixed folder."""
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    base = Path(*parts[:fixed]) if fixed else Path(".")
    items, ignored = {}, []
    for match in glob.glob(pattern, recursive=True):
        path = Path(match)
        if not path.is_file():
            continue
        if _inside(path, out_dir):
            ignored.append(match)
            continue
        items[path.relative_to(base).as_posix()] = str(path)
    return Listing([InputItem(key, items[key]) for key in sorted(items)], sorted(ignored))


def _from_remote_folder(uri: str) -> Listing:
    """Every photo under a folder of a remote filesystem (``s3://bucket/shots``), through pyarrow."""
    from pyarrow import fs

    try:
        filesystem, root = fs.FileSystem.from_uri(uri)
        infos = filesystem.get_file_info(fs.FileSelector(root, recursive=True, allow_not_found=False))
    except (OSError, ValueError) as error:
        raise BgappError(f"{uri}: cannot be listed ({first_line(error)})") from None
    scheme = uri.partition("://")[0]
    items: list[tuple[str, str]] = []  # (key, source URI)
    ignored: list[tuple[str, str]] = []
    for info in infos:
        if info.type != fs.FileType.File:
            continue
        key = PurePosixPath(info.path).relative_to(PurePosixPath(root)).as_posix()
        if any(part.startswith(".") for part in PurePosixPath(key).parts):
            continue
        (items if _is_photo(key) else ignored).append((key, f"{scheme}://{info.path}"))
    return Listing([InputItem(key, source) for key, source in sorted(items)], sorted(k for k, _ in ignored))


def read_table(spec: str) -> Any:
    """A CSV or Parquet manifest as a pyarrow table, local or remote."""
    from pyarrow import csv as pa_csv
    from pyarrow import fs, parquet

    try:
        if is_uri(spec):
            filesystem, path = fs.FileSystem.from_uri(spec)
        else:
            filesystem, path = fs.LocalFileSystem(), str(Path(spec).resolve())
        if spec.lower().endswith(".csv"):
            with filesystem.open_input_stream(path) as stream:
                return pa_csv.read_csv(stream)
        return parquet.read_table(path, filesystem=filesystem)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise BgappError(f"{spec}: cannot read the manifest ({first_line(error)})") from None


def _from_manifest(spec: str, path_column: str) -> Listing:
    """The ``path_column`` of a manifest. Relative local paths are relative to the manifest's folder;
    keys are relative to that folder when the photo lies under it, otherwise the path itself without
    its scheme or leading ``/`` (``s3://shop/a/b.jpg`` -> ``shop/a/b.jpg``)."""
    table = read_table(spec)
    if path_column not in table.column_names:
        raise BgappError(
            f"{spec}: no column {path_column!r} (columns: {', '.join(table.column_names)}); name it with --path-column"
        )
    base = spec.rsplit("/", 1)[0] if is_uri(spec) else str(Path(spec).resolve().parent)
    items: dict[str, str] = {}
    for value in table.column(path_column).to_pylist():
        if value is None or not str(value).strip():
            continue
        source = str(value).strip()
        if not is_uri(source) and not os.path.isabs(source):
            source = os.path.normpath(os.path.join(base, source)) if not is_uri(base) else f"{base}/{source}"
        items.setdefault(manifest_key(source, base), source)
    return Listing([InputItem(key, items[key]) for key in sorted(items)], [])


def manifest_key(source: str, base: str) -> str:
    """A manifest entry's key: relative to ``base`` when under it, else the bare path (no scheme, no
    leading ``/``, no ``..``), so the result lands inside OUT and is the same on every run."""
    prefix = base.rstrip("/") + "/"
    if source.startswith(prefix):
        rest = source[len(prefix) :]
    else:
        rest = source.partition("://")[2] if is_uri(source) else source
    parts = [part for part in PurePosixPath(rest.replace(os.sep, "/")).parts if part not in ("/", "..", ".")]
    return "/".join(parts) or "photo"


def first_line(error: BaseException) -> str:
    """The first line of an error's message (a filesystem's errors can run to pages)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
