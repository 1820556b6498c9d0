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
``OUT/red/shoe.png``, through ``export.result_name`` and ``pipeline.unique_stems``), so nested folders with
the same stem never collide; a name once given to an input is kept in the journal and given to the
same input on every later run, whatever was added to the catalogue since.

The work is split along its seams: ``inputs.py`` (what to read), ``naming.py`` (where each result
goes, the settings hash, the job file) and ``journal.py`` (the journal, the plan, the manifest); this
module is the one name the CLI and the tests use for all of it.
"""

from __future__ import annotations

from bgapp.batch.inputs import (
    MANIFEST_SUFFIXES,
    PHOTO_SUFFIXES,
    InputItem,
    Listing,
    is_uri,
    list_inputs,
    manifest_key,
    read_table,
)
from bgapp.batch.journal import (
    MANIFEST_COLUMNS,
    MANIFEST_CSV,
    MANIFEST_PARQUET,
    Journal,
    Task,
    manifest_rows,
    plan_tasks,
    read_journal,
    record,
    write_manifest,
)
from bgapp.batch.naming import (
    JOB_FILE,
    JOURNAL_FILE,
    assign_outputs,
    clean_temp_files,
    differences,
    open_job,
    settings_doc,
    settings_hash,
    stem_of,
    weights_fingerprint,
)

__all__ = [
    "JOB_FILE",
    "JOURNAL_FILE",
    "MANIFEST_COLUMNS",
    "MANIFEST_CSV",
    "MANIFEST_PARQUET",
    "MANIFEST_SUFFIXES",
    "PHOTO_SUFFIXES",
    "InputItem",
    "Journal",
    "Listing",
    "Task",
    "assign_outputs",
    "clean_temp_files",
    "differences",
    "is_uri",
    "list_inputs",
    "manifest_key",
    "manifest_rows",
    "open_job",
    "plan_tasks",
    "read_journal",
    "read_table",
    "record",
    "settings_doc",
    "settings_hash",
    "stem_of",
    "weights_fingerprint",
    "write_manifest",
]
