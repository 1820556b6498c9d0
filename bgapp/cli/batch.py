"""``batch``: a folder, glob or manifest of photos through the one pipeline on Ray Data, resumable.

The results are ``cut``'s (same names, exports, settings and bytes) under OUT, mirroring the input's
folders, plus ``_manifest.parquet`` / ``_manifest.csv``. Ray is imported only when a batch runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bgapp.cli.common import EXIT_FAILURE
from bgapp.cli.cut import add_pipeline_flags, pipeline_choices
from bgapp.core.errors import BgappError

EXIT_INTERRUPTED = 130


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "batch",
        help="a whole catalogue (folder, glob or manifest) on Ray Data, resumable",
        description="Cut out every photo of INPUT (a folder, searched recursively; a glob; or a CSV/Parquet "
        "manifest with a path column; local paths or any filesystem pyarrow opens, e.g. s3://) "
        "and write the results `cut` would write into OUT, keeping the input's sub-folders, plus "
        "OUT/_manifest.parquet and OUT/_manifest.csv (one row per input). Runs on an embedded "
        "local Ray, or on a cluster with --address. Run it again to resume: what is done is "
        "skipped, what is missing or failed is redone.",
        epilog="examples:\n  python -m bgapp batch shots/ --out cutouts\n"
        "  python -m bgapp batch 'shots/**/*.jpg' --method grabcut --export amazon --out amazon\n"
        "  python -m bgapp batch catalogue.parquet --path-column image --out cutouts --workers 4\n"
        "  python -m bgapp batch s3://shop/photos/ --out /mnt/shared/cutouts --address ray://head:10001",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="INPUT", help="a folder, a glob (quote it), or a .csv/.parquet manifest")
    add_pipeline_flags(
        parser, overwrite_help="redo every photo, replacing results, even where OUT was made with other settings"
    )
    parser.add_argument(
        "--path-column", default="path", metavar="NAME", help="the manifest's column of photo paths (default: path)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="method workers, each loading the network once (default: one per core, or one per GPU)",
    )
    parser.add_argument(
        "--gpus-per-worker",
        type=float,
        default=None,
        metavar="G",
        help="GPUs each worker asks for (default: 1 where Ray sees a GPU and the method is a "
        "network, else 0; 0.5 puts two workers on one GPU)",
    )
    parser.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="an existing Ray cluster (auto, or ray://head:10001); default: a local Ray "
        "started and stopped by this command",
    )
    parser.set_defaults(handler=_cmd_batch)


def _cmd_batch(args: argparse.Namespace) -> int:
    from bgapp.batch import plan

    if args.workers is not None and args.workers < 1:
        raise BgappError(f"--workers must be 1 or more, got {args.workers}")
    if args.gpus_per_worker is not None and args.gpus_per_worker < 0:
        raise BgappError(f"--gpus-per-worker must be 0 or more, got {args.gpus_per_worker:g}")
    job, limit = pipeline_choices(args, marks=False)  # a catalogue has no clicks
    settings, export = job.settings, job.export.as_mapping()
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise BgappError(f"{out}: is a file; --out must be a folder")
    listing = plan.list_inputs(args.input, out, args.path_column)
    doc = plan.settings_doc(settings, export, args.mask)
    digest = plan.settings_hash(doc)
    out.mkdir(parents=True, exist_ok=True)
    resuming = plan.open_job(out, doc, args.overwrite)
    plan.clean_temp_files(out)  # what a killed run was half-way through writing
    kind, extension = job.export.kind, job.export.suffix
    journal_path = out / plan.JOURNAL_FILE
    todo, skipped = plan.plan_tasks(
        listing.items, plan.read_journal(journal_path) if resuming else {}, out, kind, extension, digest
    )
    total = len(listing.items)
    note = f"; {len(listing.ignored)} other file(s) passed over" if listing.ignored else ""
    print(
        f"batch: {total} photo(s) from {args.input}: {len(todo)} to do, {len(skipped)} done before (skipped){note}",
        file=sys.stderr,
        flush=True,
    )

    done: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    interrupted, steady = False, 0.0
    if todo:
        interrupted, steady = _run(todo, args, settings, export, limit, out, resuming, digest, journal_path, done)
    seconds = time.perf_counter() - start
    rows = plan.manifest_rows(
        [item.key for item in listing.items], done, {task.key: task.prior or {} for task in skipped}
    )
    plan.write_manifest(out, rows)
    failed = sum(1 for r in done.values() if r["status"] == "failed")
    ok = len(done) - failed
    rate = f"; {len(done) / seconds:.2f} photos/s overall, {steady:.2f} once running" if done and seconds > 0 else ""
    if interrupted:
        print(
            f"interrupted: {ok} done, {failed} failed, {len(skipped)} skipped, {total - len(done) - len(skipped)} "
            f"not reached; run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(
        f"{ok} done, {failed} failed, {len(skipped)} skipped of {total} photo(s) with {settings.method.name}"
        + ("" if args.mask else f", export {args.export}")
        + f"{rate}; results and {plan.MANIFEST_CSV} in {out}"
    )
    return EXIT_FAILURE if failed else 0


def _run(
    todo: list,
    args: argparse.Namespace,
    settings: Any,
    export: dict,
    limit: float,
    out: Path,
    resuming: bool,
    digest: str,
    journal_path: Path,
    done: dict[str, dict[str, Any]],
) -> tuple[bool, float]:
    """Run the tasks on Ray, journalling each photo as it arrives. Returns (stopped by a signal,
    photos/s from the first result on). SIGTERM is treated like Ctrl-C, so Ray is shut down and the
    manifest written either way."""
    from bgapp.batch import plan
    from bgapp.batch.run import BatchSpec, Cluster, Progress, execute

    spec = BatchSpec(
        out_dir=str(out.resolve()),
        method=settings.method.name,
        settings=dict(settings.all),
        export=dict(export),
        mask=args.mask,
        max_megapixels=limit,
        replace=args.overwrite or resuming,
    )
    cluster = Cluster(workers=args.workers, gpus_per_worker=args.gpus_per_worker, address=args.address)
    by_key = {task.key: task for task in todo}
    progress = Progress(len(todo))
    journal = plan.Journal(journal_path)

    def started(workers: int, gpus: float, where: str) -> None:
        device = f", {gpus:g} GPU each" if gpus else ""
        print(f"running {settings.method.name} on {where}: {workers} worker(s){device}", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    rows = execute(todo, spec, cluster, settings.method.family == "deep", on_start=started)
    try:
        for row in rows:
            task = by_key[row["key"]]
            ran = str(row.get("ran", "") or "") or settings.method.name  # auto names the networks that ran
            entry = plan.record(task, row["status"], row["error"], row["bytes"], row["ms"], ran, digest)
            journal.append([entry])
            done[task.key] = entry
            progress.update(row["status"] == "failed")
            if row["status"] == "failed":
                _clear_line(progress)
                print(f"FAILED {task.source}: {row['error']}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        return True, progress.rate()
    finally:
        rows.close()  # shuts down the Ray this run started, now rather than at garbage collection
        signal.signal(signal.SIGTERM, previous)
        journal.close()
        progress.close()
    return False, progress.rate()


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _clear_line(progress: Any) -> None:
    if progress.tty:
        progress.stream.write("\n")
