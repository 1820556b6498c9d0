"""What a training run is asked to do (``python -m bgapp train``'s flags as one value); the model card
records all of it. Its own module so that the training loop and its parts (teaching.py) both read it
without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainOptions:
    """Everything ``train`` needs; the model card records all of it."""

    model: str
    data: tuple[Path, ...]
    epochs: int
    out: Path
    size: int | None = None
    batch: int = 16
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.1
    seed: int = 0
    resume: bool = False
    split: str = "trainval"
    pretrained_path: Path | None = None
    init: str | None = None  # start from this shipped model's weights (same network), e.g. for fine-tuning
    base: str | None = None  # a click network: whose masks it learns to fix (default: init)
    mix: tuple[float, ...] | None = None  # how often each data folder is drawn; None: in proportion to its size
    loss: str = "ce"  # "ce" or "ce+iou"
    select: str = "pixel_accuracy"  # validation figure that picks the shipped epoch: "pixel_accuracy" or "fg_iou"
    encoder: str | None = None  # another encoder than the model's own (e.g. "effnet-lite2"); the JSON records it
    teacher: tuple[Path, ...] = ()  # folders holding a trained NAME model each: their answers become soft targets
    teacher_weight: float = 0.5  # share of the teachers' probabilities in a training target (the rest: the truth)
    extra: tuple[Path, ...] = ()  # more labelled folders, each held out on its own (the data hold-out stays put)
    unlabelled: tuple[Path, ...] = ()  # photos without masks: the ONNX teacher's answer is their target
    teacher_model: str | None = None  # an ONNX teacher: "u2net", "u2netp" or FILE.onnx (lab/teachers.py)
    teacher_file: Path | None = None  # where u2net / u2netp is, when not in its default place
    cache: Path | None = None  # the teacher's view cache to read (never built here); None: OUT/.teacher-cache/NAME
    views: int = 4  # views per photo when train builds the cache itself
    teacher_threads: int = 1  # the teacher's threads while train builds the cache
