"""``python -m bgapp``: the command line. Every command is built from the same declarations as the app.

Errors a user can cause print one line (``error: ...``) and exit with status 2; a failure of
ours prints one line too and exits 1. Set ``BGAPP_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from .errors import BgappError, ParamError
from .params import Param, parse_assignments

EXIT_USER_ERROR = 2
EXIT_FAILURE = 1

EPILOG = """examples:
  python -m bgapp methods                       list methods and their settings
  python -m bgapp cut photo.jpg --out cutouts   transparent PNG with the default method
  python -m bgapp cut shots/*.jpg --method grabcut --param iterations=6 --out cutouts
  python -m bgapp cut photo.jpg --background white --out white
  python -m bgapp bench --out results           speed and quality of every method
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; subcommands register themselves below."""
    parser = argparse.ArgumentParser(
        prog="python -m bgapp",
        description="Cut products out of their photos: transparent PNG, white background, or the mask.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for register in _COMMANDS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status instead of raising, so tests can call it directly."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except BgappError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the user gets one line, developers set BGAPP_DEBUG
        if os.environ.get("BGAPP_DEBUG"):
            raise
        print(f"error: unexpected failure ({type(error).__name__}: {error}); "
              "set BGAPP_DEBUG=1 for details", file=sys.stderr)
        return EXIT_FAILURE


# --- methods --------------------------------------------------------------------------------------

def _register_methods(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("methods", help="list the methods and every setting they take",
                                 description="List every method with its settings (name, type, "
                                             "default, allowed values, what it does).")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(handler=_cmd_methods)


def _cmd_methods(args: argparse.Namespace) -> int:
    from .methods import all_methods
    from .pipeline import STEP_PARAMS, step_defaults

    methods = all_methods()
    if args.json:
        payload = {
            "methods": {m.name: {"summary": m.summary, "family": m.family,
                                 "available": m.available() is None,
                                 "params": [_param_json(p) for p in m.params],
                                 "step_defaults": step_defaults(m)} for m in methods.values()},
            "steps": [_param_json(p) for p in STEP_PARAMS],
        }
        print(json.dumps(payload, indent=2))
        return 0
    for method in methods.values():
        missing = method.available()
        note = f"  [unavailable: {missing}]" if missing else ""
        print(f"{method.name}  ({method.family}){note}\n  {method.summary}")
        for param in method.params:
            print(_param_line(param))
        changed = {k: v for k, v in method.cleanup_defaults.items()}
        if changed:
            print("    clean-up defaults for this method: " + ", ".join(f"{k}={v}" for k, v in changed.items()))
        print()
    print("Shared steps (every method; set them with --param too):")
    for param in STEP_PARAMS:
        print(_param_line(param))
    return 0


def _param_line(param: Param) -> str:
    return f"    {param.name:<18} {param.kind:<6} default {str(param.default):<9} [{param.describe_range()}]\n" \
           f"        {param.help}"


def _param_json(param: Param) -> dict:
    return {"name": param.name, "kind": param.kind, "default": param.default, "min": param.min,
            "max": param.max, "step": param.step, "choices": list(param.choices), "odd": param.odd,
            "help": param.help}


# --- cut ------------------------------------------------------------------------------------------

def _register_cut(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "cut", help="cut the product out of one or many photos",
        description="Cut the product out of each IMAGE and write OUT/<name>.png: a transparent PNG "
                    "of the photo's own size (default), the product on white, or the mask alone. "
                    "Input files are never modified.",
        epilog="example: python -m bgapp cut shots/*.jpg --method kmeans --param k=4 --out cutouts")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="photo files (JPEG, PNG, WebP, TIFF, BMP)")
    parser.add_argument("--method", default="threshold", help="method name (see `methods`); default threshold")
    parser.add_argument("--out", required=True, type=Path, help="folder for the results (created if missing)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a method or clean-up setting, repeatable, e.g. --param blur=7")
    parser.add_argument("--background", choices=("transparent", "white"), default="transparent",
                        help="transparent PNG (default) or the product on pure white")
    parser.add_argument("--mask", action="store_true", help="write the mask (white = product) instead")
    parser.add_argument("--overwrite", action="store_true", help="replace results that already exist")
    parser.add_argument("--max-megapixels", type=float, default=None, metavar="MP",
                        help="refuse larger photos (default 100)")
    parser.set_defaults(handler=_cmd_cut)


def _cmd_cut(args: argparse.Namespace) -> int:
    from .images import DEFAULT_MAX_MEGAPIXELS, encode_png, load_image, write_new_file
    from .compose import compose_on_colour, compose_transparent, mask_image
    from .pipeline import cut_out, resolve_settings

    settings = resolve_settings(args.method, parse_assignments(args.param))
    limit = args.max_megapixels or DEFAULT_MAX_MEGAPIXELS
    inputs = [Path(p) for p in args.images]
    protected = frozenset(p.resolve() for p in inputs)
    targets = output_paths(inputs, args.out)
    failed = 0
    total = len(inputs)
    for index, (source, target) in enumerate(zip(inputs, targets), start=1):
        start = time.perf_counter()
        try:
            image = load_image(source, max_megapixels=limit)
            result = cut_out(image, settings)
            if args.mask:
                data = encode_png(mask_image(result.alpha))
            elif args.background == "white":
                data = encode_png(compose_on_colour(result.colours, result.alpha))
            else:
                data = encode_png(compose_transparent(result.colours, result.alpha))
            write_new_file(target, data, overwrite=args.overwrite, protected=protected)
        except BgappError as error:
            failed += 1
            print(f"[{index}/{total}] FAILED {source}: {error}", file=sys.stderr)
            continue
        seconds = time.perf_counter() - start
        print(f"[{index}/{total}] {source} -> {target} ({seconds:.2f} s)", file=sys.stderr)
    done = total - failed
    print(f"{done} of {total} photo(s) cut out with {settings.method.name}"
          + (f"; {failed} failed" if failed else "") + f"; results in {args.out}")
    return EXIT_FAILURE if failed else 0


def output_paths(inputs: Sequence[Path], out_dir: Path) -> list[Path]:
    """``out_dir/<stem>.png`` for each input; two inputs with the same stem get ``-2``, ``-3``... so no result replaces another."""
    seen: dict[str, int] = {}
    paths = []
    for source in inputs:
        stem = source.stem or "image"
        count = seen.get(stem.lower(), 0) + 1
        seen[stem.lower()] = count
        paths.append(out_dir / (f"{stem}.png" if count == 1 else f"{stem}-{count}.png"))
    return paths


# --- bench ----------------------------------------------------------------------------------------

def _register_bench(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bench", help="measure speed and quality of the methods",
        description="Time every method on a 1024 px preview and on 12 MP / 24 MP photos (median of "
                    "--repeat runs after a warm-up), and score it on the project's synthetic "
                    "product photos. Prints a table; --out also writes bench.json and bench.md.")
    parser.add_argument("--methods", nargs="+", default=None, metavar="NAME", help="methods to measure (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure (default 3)")
    parser.add_argument("--scenes", type=int, default=16, help="synthetic product photos to score on (default 16)")
    parser.add_argument("--out", type=Path, default=None, help="folder for bench.json and bench.md")
    parser.add_argument("--overwrite", action="store_true", help="replace earlier results in --out")
    parser.set_defaults(handler=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    if args.repeat < 1 or args.scenes < 1:
        raise ParamError("--repeat and --scenes must be at least 1")
    return bench.run_cli(args)


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_register_methods, _register_cut, _register_bench]
