"""``evaluate``: a method's figures on a labelled set (``lab/evaluate.py``), optionally into its model card."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bgapp.core.errors import ParamError
from bgapp.core.params import parse_assignments


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score a method on a labelled dataset (Pet, DUTS or images/ + masks/)",
        description="Run METHOD on every image of one split of DIR through the full pipeline and print "
        "trimap_accuracy (3-class, for the U-Nets on Pet trimaps), binary accuracy, iou, f1 and "
        "mae (foreground = object + border, or the mask cut at 0.5) and ms_per_image, as means "
        "over images, and max_f, the salient-object field's max F-measure. Works for every "
        "method, classical ones too. DIR is in the Oxford-IIIT Pet layout, the DUTS layout "
        "(split test = DUTS-TE) or images/ + masks/; unusable pairs are named and skipped.",
        epilog="example: python -m bgapp evaluate --method unet-mobilenetv2 --data oxford-iiit-pet --limit 50",
    )
    parser.add_argument("--method", required=True, help="method name (see `methods`)")
    parser.add_argument(
        "--data", required=True, type=Path, help="dataset folder (Pet, DUTS or images/ + masks/ layout)"
    )
    parser.add_argument("--split", default="test", help="which split to score (default test)")
    parser.add_argument("--worst", type=int, default=5, help="how many lowest-IoU images to name (default 5)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N images")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a setting, repeatable")
    parser.add_argument(
        "--holdout-of",
        nargs="+",
        type=Path,
        default=None,
        metavar="DIR",
        help="score the validation hold-out that `train --data DIR...` keeps out of DATA's "
        "trainval (same --seed and --val-fraction), e.g. to choose a setting without "
        "looking at the test split",
    )
    parser.add_argument("--seed", type=int, default=0, help="with --holdout-of: train's --seed (default 0)")
    parser.add_argument(
        "--val-fraction", type=float, default=0.1, help="with --holdout-of: train's --val-fraction (default 0.1)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--record", action="store_true", help="also copy the printed figures into the model's card (deep methods only)"
    )
    parser.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from bgapp.lab.evaluate import evaluate, format_summary

    if args.limit is not None and args.limit < 1:
        raise ParamError("--limit must be at least 1")
    if not args.data.is_dir():
        raise ParamError(f"--data {args.data} is not a folder")
    start = time.perf_counter()

    def progress(done: int, total: int, name: str) -> None:
        if done == total or done % 10 == 0:
            print(f"[{done}/{total}] {name}  {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    only = None
    if args.holdout_of:
        from bgapp.lab.datasets import holdout_names

        roots = [Path(p).resolve() for p in args.holdout_of]
        if args.data.resolve() not in roots:
            raise ParamError(f"--holdout-of must list --data {args.data} among the training folders")
        only = holdout_names(roots, roots.index(args.data.resolve()), args.val_fraction, args.seed)
        args.split = "trainval"
    summary = evaluate(
        args.method,
        args.data,
        args.split,
        args.limit,
        parse_assignments(args.param),
        progress,
        worst=max(0, args.worst),
        only=only,
    )
    text = format_summary(summary, args.data)
    print(json.dumps(summary) if args.json else text)
    if args.record:
        from bgapp.core.models import model_files, weights_dir
        from bgapp.lab.cards import record_evaluation

        if not model_files(args.method)["config"].exists():
            raise ParamError(
                f"--record needs a trained model; {args.method} has no {model_files(args.method)['config']}"
            )
        command = "python -m bgapp evaluate " + " ".join(
            f"--method {args.method} --data {args.data} --split {args.split}".split()
            + ([f"--limit {args.limit}"] if args.limit else [])
            + [f"--param {p}" for p in args.param]
        )
        card = record_evaluation(args.method, weights_dir(), command, text, summary, args.data)
        print(f"recorded in {card}", file=sys.stderr)
    return 0
