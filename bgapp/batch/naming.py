"""Where each result goes and which settings a batch folder holds: output names (the same rule as
``cut``, unique per folder, kept across runs), the settings document and its hash, the job file."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from bgapp.core.errors import BgappError
from bgapp.core.export import result_name
from bgapp.core.images import write_new_file
from bgapp.core.pipeline import Settings, unique_stems

JOB_FILE = "_batch.json"
JOURNAL_FILE = "_journal.jsonl"


# --- names, settings, the job file ---------------------------------------------------------------


def stem_of(name: str, kind: str, extension: str) -> str:
    """The stem that ``result_name(stem, kind, extension)`` turned into ``name``."""
    stem = name[: -len(extension)] if extension and name.endswith(extension) else name
    tail = f"-{kind}"
    return stem[: -len(tail)] if kind != "transparent" and stem.endswith(tail) else stem


def assign_outputs(
    keys: Sequence[str], kind: str, extension: str, reserved: Mapping[str, str] | None = None
) -> dict[str, str]:
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
        stems = unique_stems([*taken, *(PurePosixPath(k).stem for k in members)])[len(taken) :]
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
            changed = (
                differences({"method": before.get("method")}, {"method": doc.get("method")})
                or differences(before, doc)[:3]
                or [f"unreadable {JOB_FILE}"]
            )
            raise BgappError(
                f"{out_dir} holds a batch made with other settings ({'; '.join(changed)}); "
                "use another --out, or --overwrite to redo every photo with these settings"
            )
        resuming = same and not overwrite
    if not resuming:
        (out_dir / JOURNAL_FILE).unlink(missing_ok=True)
        data = json.dumps({"settings_hash": digest, "settings": doc, "created": now()}, indent=2, default=str)
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


def now() -> str:
    """A local timestamp for the job file and the journal."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
