"""``export-onnx``: the ONNX file a cut-out runs on, from a model's trained weights."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    from bgapp.core.models import MODELS

    parser = commands.add_parser(
        "export-onnx",
        help="write NAME.onnx (what cut-outs run on) from a model's NAME.npz",
        description="Rebuild a trained model from NAME.json + NAME.npz with TensorFlow and write the same "
        "network as NAME.onnx beside them, for ONNX Runtime (fast start, no TensorFlow at run "
        "time). `train` does this itself; this is for weights trained before it did.",
        epilog="example: python -m bgapp export-onnx --model unet-product",
    )
    parser.add_argument("--model", required=True, nargs="+", choices=sorted(MODELS), help="model name(s)")
    parser.add_argument(
        "--weights",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder with the model files (default: BGAPP_WEIGHTS or weights/)",
    )
    parser.set_defaults(handler=_cmd_export_onnx)


def _cmd_export_onnx(args: argparse.Namespace) -> int:
    from bgapp.lab.onnx_export import export_model

    for name in args.model:
        path = export_model(name, args.weights)
        print(f"{name}: wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
