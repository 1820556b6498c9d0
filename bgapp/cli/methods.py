"""``methods``: every method and its settings, from the declarations (text or JSON)."""

from __future__ import annotations

import argparse
import json

from bgapp.core.describe import methods_payload
from bgapp.core.params import Param


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "methods",
        help="list the methods and every setting they take",
        description="List every method with its settings (name, type, default, allowed values, what it does).",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(handler=_cmd_methods)


def _cmd_methods(args: argparse.Namespace) -> int:
    from bgapp.core.methods import all_methods
    from bgapp.core.pipeline import STEP_PARAMS

    methods = all_methods()
    if args.json:
        print(json.dumps(methods_payload(), indent=2))
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
    return (
        f"    {param.name:<18} {param.kind:<6} default {param.default!s:<9} [{param.describe_range()}]\n"
        f"        {param.help}"
    )
