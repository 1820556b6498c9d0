"""The bookkeeping of a batch, with no Ray in it: what to read, where each result goes, what is done.

A batch folder OUT holds, beside the results:

- ``_batch.json``: the settings hash and the settings it stands for. A run with other settings is
  refused (one line) unless ``--overwrite``, so one folder never mixes two kinds of cut-out.
- ``_journal.jsonl``: one JSON line per finished photo (ok or failed), appended and flushed as each
  photo finishes. It is what makes a run killed at photo 14,000 resume at 14,001: the manifest is
  written only at the end, the journal all along. A torn last line (a kill mid-write) is ignored.
- ``_manifest.parquet`` and ``_manifest.csv``: one row per input of the last run (ok, failed, or
  skipped because an earlier run with the same settings did it).

Output names come from the input's path relative to the input folder (``red/shoe.jpg`` ->
``OUT/red/shoe.png``, through ``pipeline.result_name`` and ``unique_stems``), so nested folders with
the same stem never collide; a name once given to an input is kept in the journal and given to the
same input on every later run, whatever was added to the catalogue since.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping, Sequence

from bgapp.core.errors import BgappError
from bgapp.core.images import EXTENSIONS, write_new_file
from bgapp.core.pipeline import Settings, result_name, unique_stems

JOB_FILE = "_batch.json"
JOURNAL_FILE = "_journal.jsonl"
MANIFEST_PARQUET = "_manifest.parquet"
MANIFEST_CSV = "_manifest.csv"
MANIFEST_COLUMNS = ("input", "output", "status", "error", "bytes", "ms", "method", "settings_hash")
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


@dataclass(frozen=True)
class Task:
    """One input with its output path (relative to OUT) and, when it is skipped, the earlier record."""

    key: str
    source: str
    output: str
    prior: dict[str, Any] | None = None


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
    items, ignored = [], []
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
        raise BgappError(f"{uri}: cannot be listed ({_first_line(error)})") from None
    scheme = uri.partition("://")[0]
    items, ignored = [], []
    for info in infos:
        if info.type != fs.FileType.File:
            continue
        key = PurePosixPath(info.path).relative_to(PurePosixPath(root)).as_posix()
        if any(part.startswith(".") for part in PurePosixPath(key).parts):
            continue
        (items if _is_photo(key) else ignored).append((key, f"{scheme}://{info.path}"))
    return Listing([InputItem(key, source) for key, source in sorted(items)], sorted(k for k, _ in ignored))


def read_table(spec: str) -> "Any":
    """A CSV or Parquet manifest as a pyarrow table, local or remote."""
    from pyarrow import csv as pa_csv, fs, parquet

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
        raise BgappError(f"{spec}: cannot read the manifest ({_first_line(error)})") from None


def _from_manifest(spec: str, path_column: str) -> Listing:
    """The ``path_column`` of a manifest. Relative local paths are relative to the manifest's folder;
    keys are relative to that folder when the photo lies under it, otherwise the path itself without
    its scheme or leading ``/`` (``s3://shop/a/b.jpg`` -> ``shop/a/b.jpg``)."""
    table = read_table(spec)
    if path_column not in table.column_names:
        raise BgappError(f"{spec}: no column {path_column!r} (columns: {', '.join(table.column_names)}); "
                         "name it with --path-column")
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
        rest = source[len(prefix):]
    else:
        rest = source.partition("://")[2] if is_uri(source) else source
    parts = [part for part in PurePosixPath(rest.replace(os.sep, "/")).parts if part not in ("/", "..", ".")]
    return "/".join(parts) or "photo"


# --- names, settings, the job file ---------------------------------------------------------------


def stem_of(name: str, kind: str, extension: str) -> str:
    """The stem that ``result_name(stem, kind, extension)`` turned into ``name``."""
    stem = name[: -len(extension)] if extension and name.endswith(extension) else name
    tail = f"-{kind}"
    return stem[: -len(tail)] if kind != "transparent" and stem.endswith(tail) else stem


def assign_outputs(keys: Sequence[str], kind: str, extension: str,
                   reserved: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each key's result path relative to OUT: the key's folder plus ``result_name`` of its stem,
    made unique within that folder (``unique_stems``: ``shoe.jpg`` and ``shoe.png`` give ``shoe.png``
    and ``shoe-2.png``). ``reserved`` (key -> output from the journal) keeps earlier names."""
    reserved = {k: v for k, v in (reserved or {}).items() if k in set(keys)}
    folders: dict[str, tuple[list[str], list[str]]] = {}
    for key, output in sorted(reserved.items()):
        folder = PurePosixPath(output).parent.as_posix()
        folders.setdefault(folder.lower(), ([], []))[0].append(stem_of(PurePosixPath(output).name, kind, extension))
    pending: dict[str, list[str]] = {}
    for key in keys:
        if key not in reserved:
            folder = PurePosixPath(key).parent.as_posix()
            pending.setdefault(folder, []).append(key)
    outputs = dict(reserved)
    for folder, members in pending.items():
        taken = folders.get(folder.lower(), ([], []))[0]
        stems = unique_stems([*taken, *(PurePosixPath(k).stem for k in members)])[len(taken):]
        for key, stem in zip(members, stems):
            name = result_name(stem, kind, extension)
            outputs[key] = name if folder == "." else f"{folder}/{name}"
    return outputs


def weights_fingerprint(settings: Settings) -> str | None:
    """A network's weights are part of what a result is: retrained weights give other cut-outs,
    so a batch must not call the old results done. None for classical methods."""
    if settings.method.family != "deep":
        return None
    from bgapp.core.models import model_files

    onnx = model_files(settings.method.name)["onnx"]
    return hashlib.sha256(onnx.read_bytes()).hexdigest()[:16] if onnx.exists() else None


def settings_doc(settings: Settings, export: Mapping[str, Any], mask: bool) -> dict[str, Any]:
    """Everything that decides a result's bytes (and nothing else: not the pixel limit or the worker
    count, which change which photos run where, not what any result looks like)."""
    return {
        "method": settings.method.name,
        "method_params": dict(sorted(settings.method_params.items())),
        "step_params": dict(sorted(settings.step_params.items())),
        "output": "mask" if mask else dict(sorted(export.items())),
        "weights": weights_fingerprint(settings),
    }


def settings_hash(doc: Mapping[str, Any]) -> str:
    """A short, stable hash of ``settings_doc`` (key order and float spelling do not matter)."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``name: old -> new`` for each setting that differs, nested names joined with dots."""
    found = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            found += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key}: {a} -> {b}")
    return found


def open_job(out_dir: Path, doc: Mapping[str, Any], overwrite: bool) -> bool:
    """Claim OUT for these settings. Returns True when this run resumes an earlier one with the same
    settings; a folder made with other settings is a one-line ``BgappError`` unless ``overwrite``
    (then its journal is dropped and every photo is redone)."""
    digest = settings_hash(doc)
    job_path = out_dir / JOB_FILE
    resuming = False
    if job_path.exists():
        try:
            old = json.loads(job_path.read_text())
        except (OSError, ValueError):
            old = {}
        same = old.get("settings_hash") == digest
        if not same and not overwrite:
            before = old.get("settings", {})
            changed = (differences({"method": before.get("method")}, {"method": doc.get("method")})
                       or differences(before, doc)[:3] or [f"unreadable {JOB_FILE}"])
            raise BgappError(f"{out_dir} holds a batch made with other settings ({'; '.join(changed)}); "
                             "use another --out, or --overwrite to redo every photo with these settings")
        resuming = same and not overwrite
    if not resuming:
        (out_dir / JOURNAL_FILE).unlink(missing_ok=True)
        data = json.dumps({"settings_hash": digest, "settings": doc, "created": _now()}, indent=2, default=str)
        write_new_file(job_path, (data + "\n").encode(), overwrite=True)
    return resuming


def clean_temp_files(out_dir: Path) -> int:
    """Remove the hidden temporary files (``.bgapp-*``) a killed run left in OUT: ``write_new_file``
    renames a result into place only when it is whole, so these are never results. Returns how many."""
    removed = 0
    for root, _, files in os.walk(out_dir):
        for name in files:
            if name.startswith(".bgapp-"):
                Path(root, name).unlink(missing_ok=True)
                removed += 1
    return removed


# --- the journal and the plan ----------------------------------------------------------------------


def read_journal(path: Path) -> dict[str, dict[str, Any]]:
    """The last record of each key; a torn or unreadable line (a run killed mid-write) is skipped."""
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("key"), str):
                records[record["key"]] = record
    return records


class Journal:
    """Append-only, one line per finished photo, flushed and synced in small groups, so a run killed
    at any moment loses at most the photos still in flight (they are redone, never half-counted)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = path.open("a", encoding="utf-8")

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        lines = "".join(json.dumps(dict(r), sort_keys=True, default=str) + "\n" for r in records)
        if lines:
            self._handle.write(lines)
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


def plan_tasks(items: Sequence[InputItem], journal: Mapping[str, Mapping[str, Any]], out_dir: Path,
               kind: str, extension: str, digest: str) -> tuple[list[Task], list[Task]]:
    """(to do, skipped): an input is skipped when the journal says it was done with these settings
    and its result is still there; everything else (new, failed, result deleted) is done again."""
    mine = {k: r for k, r in journal.items() if r.get("settings_hash") == digest}
    reserved = {k: str(r["output"]) for k, r in mine.items() if r.get("output")}
    outputs = assign_outputs([item.key for item in items], kind, extension, reserved)
    todo, skipped = [], []
    for item in items:
        record = mine.get(item.key)
        output = outputs[item.key]
        if record and record.get("status") == "ok" and (out_dir / output).is_file():
            skipped.append(Task(item.key, item.source, output, dict(record)))
        else:
            todo.append(Task(item.key, item.source, output))
    return todo, skipped


def record(task: Task, status: str, error: str, size: int, ms: float, method: str, digest: str) -> dict[str, Any]:
    """One journal line: what the manifest's row for this input will say."""
    return {"key": task.key, "input": task.source, "output": task.output, "status": status,
            "error": error, "bytes": int(size), "ms": round(float(ms), 1), "method": method,
            "settings_hash": digest, "at": _now()}


# --- the manifest -----------------------------------------------------------------------------------


def manifest_rows(order: Sequence[str], done: Mapping[str, Mapping[str, Any]],
                  skipped: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per input in ``order``: this run's record, or the earlier record marked ``skipped``.
    Inputs this run did not reach (it was interrupted) have no row."""
    rows = []
    for key in order:
        source = done.get(key) or skipped.get(key)
        if source is None:
            continue
        row = {column: source.get(column, "") for column in MANIFEST_COLUMNS}
        if key not in done:
            row["status"] = "skipped"
        row["error"] = str(row["error"] or "")
        row["bytes"], row["ms"] = int(row["bytes"] or 0), float(row["ms"] or 0.0)
        rows.append(row)
    return rows


def write_manifest(out_dir: Path, rows: Sequence[Mapping[str, Any]]) -> tuple[Path, Path]:
    """``_manifest.parquet`` (typed, for code) and ``_manifest.csv`` (for people), each written atomically."""
    import pyarrow as pa
    from pyarrow import parquet

    schema = pa.schema([(c, pa.int64() if c == "bytes" else pa.float64() if c == "ms" else pa.string())
                        for c in MANIFEST_COLUMNS])
    table = pa.Table.from_pylist([dict(r) for r in rows], schema=schema)
    buffer = pa.BufferOutputStream()
    parquet.write_table(table, buffer)
    parquet_path, csv_path = out_dir / MANIFEST_PARQUET, out_dir / MANIFEST_CSV
    write_new_file(parquet_path, buffer.getvalue().to_pybytes(), overwrite=True)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_new_file(csv_path, text.getvalue().encode(), overwrite=True)
    return parquet_path, csv_path


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


__all__ = ["InputItem", "Listing", "Task", "Journal", "list_inputs", "assign_outputs", "settings_doc",
           "settings_hash", "open_job", "read_journal", "plan_tasks", "record", "manifest_rows",
           "write_manifest", "clean_temp_files", "manifest_key", "stem_of", "differences", "is_uri"]
