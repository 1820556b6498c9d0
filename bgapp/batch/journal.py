"""What a batch has done: the append-only journal (what makes a killed run resume), the plan of what
is left, and the manifest written at the end."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bgapp.batch.inputs import InputItem
from bgapp.batch.naming import assign_outputs, now
from bgapp.core.images import write_new_file

MANIFEST_PARQUET = "_manifest.parquet"
MANIFEST_CSV = "_manifest.csv"
MANIFEST_COLUMNS = ("input", "output", "status", "error", "bytes", "ms", "method", "settings_hash")


@dataclass(frozen=True)
class Task:
    """One input with its output path (relative to OUT) and, when it is skipped, the earlier record."""

    key: str
    source: str
    output: str
    prior: dict[str, Any] | None = None


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


def plan_tasks(
    items: Sequence[InputItem],
    journal: Mapping[str, Mapping[str, Any]],
    out_dir: Path,
    kind: str,
    extension: str,
    digest: str,
) -> tuple[list[Task], list[Task]]:
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
    return {
        "key": task.key,
        "input": task.source,
        "output": task.output,
        "status": status,
        "error": error,
        "bytes": int(size),
        "ms": round(float(ms), 1),
        "method": method,
        "settings_hash": digest,
        "at": now(),
    }


# --- the manifest -----------------------------------------------------------------------------------


def manifest_rows(
    order: Sequence[str], done: Mapping[str, Mapping[str, Any]], skipped: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
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

    schema = pa.schema(
        [(c, pa.int64() if c == "bytes" else pa.float64() if c == "ms" else pa.string()) for c in MANIFEST_COLUMNS]
    )
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
