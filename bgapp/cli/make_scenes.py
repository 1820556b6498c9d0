"""``make-scenes``: generated product-photo training scenes with exact masks (``lab/scenes.py``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bgapp.core.errors import ParamError


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "make-scenes",
        help="generate product-photo training scenes with exact masks",
        description="Render COUNT product-photo scenes with exact masks into OUT, in the layout that "
        "`train` and `evaluate` read (images/, annotations/trimaps/, annotations/SPLIT.txt). "
        "Foregrounds: rendered products, plus pets cut out of --pets photos of the same split; "
        "backgrounds: studio sweeps, paper, fabric, wood, concrete, tabletops, and real "
        "backgrounds from the --pets photos; shadows and reflections stay out of the mask.",
        epilog="example: python -m bgapp make-scenes --out scenes --count 1200 --seed 1 --pets oxford-iiit-pet\n"
        "         python -m bgapp make-scenes --out scenes --count 200 --seed 2 --split test --pets oxford-iiit-pet",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--count", required=True, type=int, help="number of scenes")
    parser.add_argument("--seed", required=True, type=int, help="the same seed gives the same scenes")
    parser.add_argument(
        "--split",
        default="trainval",
        choices=("trainval", "test"),
        help="which list to write, and which Pet split to take pets from (default trainval)",
    )
    parser.add_argument(
        "--pets",
        "--objects",
        dest="pets",
        type=Path,
        default=None,
        help="labelled photos to cut real objects (and backgrounds) from: an Oxford-IIIT Pet, "
        "DUTS or images/ + masks/ folder (optional; its split of the same name is used)",
    )
    parser.add_argument("--size", default="384x288", help="WIDTHxHEIGHT of each scene (default 384x288)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing list of this split")
    parser.set_defaults(handler=_cmd_make_scenes)


def _cmd_make_scenes(args: argparse.Namespace) -> int:
    from bgapp.lab.scenes import load_sources, write_scenes

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ParamError(f"--size {args.size!r}: expected WIDTHxHEIGHT, e.g. 384x288") from None
    if args.count < 1 or not (32 <= width <= 4096 and 32 <= height <= 4096):
        raise ParamError("--count must be at least 1 and each side between 32 and 4096 px")
    listing = args.out / "annotations" / f"{args.split}.txt"
    if listing.exists() and not args.overwrite:
        raise ParamError(f"{listing} exists; use --overwrite or another --out")
    sources = load_sources(args.pets, args.split) if args.pets else None
    if sources:
        print(f"{len(sources)} pet photos of the {args.split} split as foregrounds and backgrounds", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if done == total or done % 100 == 0:
            print(f"[{done}/{total}] scenes", file=sys.stderr, flush=True)

    names = write_scenes(args.out, args.split, args.count, args.seed, (width, height), sources, progress)
    print(f"wrote {len(names)} scenes to {args.out} (listed in {listing})")
    return 0
