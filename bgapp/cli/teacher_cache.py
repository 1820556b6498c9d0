"""``teacher-cache``: an ONNX teacher's answers on augmented views of the training photos
(``lab/distil.py``), made once for ``train --teacher u2net``; resumable, so it can run in the
background across sessions."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from bgapp.core.errors import BgappError, ParamError


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """--extra, --unlabelled, --teacher-file: shared with ``train`` so both pick the same photos."""
    parser.add_argument(
        "--extra",
        type=Path,
        nargs="+",
        default=(),
        metavar="DIR",
        help="more labelled folders (any layout, e.g. ../shared/data/duts-tr-extra), each with its own "
        "validation hold-out (same --val-fraction and --seed), so the --data hold-out does not move",
    )
    parser.add_argument(
        "--unlabelled",
        type=Path,
        nargs="+",
        default=(),
        metavar="DIR",
        help="folders of photos without masks (DIR/*.jpg or DIR/images/): the teacher's answer is "
        "their only target; never a test split",
    )
    parser.add_argument(
        "--teacher-file",
        type=Path,
        default=None,
        metavar="FILE.onnx",
        help="where --teacher u2net / u2netp is (default: ~/.cache/bgapp/models/u2net.onnx or "
        "BGAPP_U2NET; ../shared/baselines/u2netp/u2netp.onnx or BGAPP_U2NETP)",
    )


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "teacher-cache",
        help="distillation: an ONNX teacher's answers on K augmented views per photo, on disk",
        description=textwrap.fill(
            "Run an ONNX teacher (rembg's u2net or u2netp, or any ONNX file of their input and output) on K "
            "augmented views of every training photo (view 0: the photo itself; then zoom-in crops, "
            "zoomed-out views with the photo smaller on a filled canvas, views that cut the subject, "
            "mirrored and colour-jittered) and store each answer as an 8-bit PNG with the view's parameters. "
            "The photos are those `train` trains on with the same --data, --extra, --unlabelled, "
            "--val-fraction and --seed: validation photos are never cached. Views already in OUT are "
            "skipped, so a killed run resumes; it prints its progress with a rate and an ETA. Then train "
            "from it: `train --teacher u2net --cache OUT ...`.",
            79,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example (a few hours on one CPU core; resumable):\n"
        "  python -m bgapp teacher-cache --teacher u2net --data ../shared/data/duts "
        "--extra ../shared/data/duts-tr-extra --views 4 --out ~/.cache/bgapp/teacher-u2net\n"
        "  python -m bgapp train --model unet-product --init unet-product --data ../shared/data/duts "
        "--extra ../shared/data/duts-tr-extra --teacher u2net --cache ~/.cache/bgapp/teacher-u2net "
        "--epochs 4 --size 224 --loss ce+iou --select fg_iou",
    )
    parser.add_argument(
        "--teacher",
        required=True,
        metavar="u2net|u2netp|FILE.onnx",
        help="the teacher: rembg's u2net (176 MB) or u2netp, or an ONNX file of their I/O",
    )
    parser.add_argument(
        "--data",
        type=Path,
        nargs="+",
        default=(),
        metavar="DIR",
        help="labelled folders, as given to train --data (their hold-out is left out)",
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--views", type=int, default=4, metavar="K", help="views per photo (default 4; view 0 is the photo)"
    )
    parser.add_argument(
        "--size",
        type=int,
        default=320,
        help="side of the stored answers in px (default 320, the teacher's input; train resizes them)",
    )
    parser.add_argument("--val-fraction", type=float, default=0.1, help="train's --val-fraction (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="train's --seed; also draws the views (default 0)")
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="only the first N training photos (a trial)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for the teacher (default 1: leaves the other cores to others; 0: all)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="CACHE", help="the cache folder (made if missing)")
    parser.set_defaults(handler=_cmd_teacher_cache)


def _cmd_teacher_cache(args: argparse.Namespace) -> int:
    from bgapp.lab.distil import build_cache, seconds_per_1000, split_sources
    from bgapp.lab.teachers import load_teacher

    if args.views < 1 or args.size < 32 or not 0 < args.val_fraction < 1 or args.threads < 0:
        raise ParamError("--views must be at least 1, --size at least 32, --val-fraction between 0 and 1")
    if not (args.data or args.extra or args.unlabelled):
        raise ParamError("give the photos: --data, --extra and/or --unlabelled")
    for folder in (*args.data, *args.extra, *args.unlabelled):
        if not folder.is_dir():
            raise ParamError(f"{folder} is not a folder")
    teacher = load_teacher(args.teacher, args.teacher_file, args.threads)
    train, val, problems, _ = split_sources(
        tuple(args.data), tuple(args.extra), tuple(args.unlabelled), args.val_fraction, args.seed
    )
    from bgapp.lab.datasets import report_problems

    say = lambda line: print(line, flush=True)  # noqa: E731
    report_problems(problems, say)
    photos = train[: args.limit or None]
    say(
        f"teacher {teacher.name} ({teacher.path}, input {teacher.side} px, {args.threads or 'all'} thread(s)); "
        f"{len(photos)} training photos x {args.views} views ({len(val)} validation photos left out)"
    )
    result = build_cache(photos, teacher, args.out, args.views, args.size, args.seed, say)
    if result["written"]:
        say(
            f"wrote {result['written']} views in {result['seconds']:.0f} s "
            f"({seconds_per_1000(result['seconds'], result['written'])}); {result['cached']} were cached already"
        )
    else:
        say(f"nothing to do: all {result['cached']} views are cached in {args.out}")
    if result["failed"]:
        report_problems(result["problems"], say)
        raise BgappError(f"{result['failed']} photo(s) could not be read; the others are cached")
    return 0
