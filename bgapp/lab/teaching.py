"""What distillation adds to training: the teachers' answers as soft targets (the project's own trained
models, averaged, or an ONNX teacher's cached views from ``lab/distil.py``), blended with the true masks."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from bgapp.core.errors import BgappError
from bgapp.core.models import ModelConfig
from bgapp.lab import datasets as dataset
from bgapp.lab.options import TrainOptions

Progress = Callable[[str], None]


def teacher_cache_folder(options: TrainOptions) -> Path:
    """The view cache ``train`` reads: ``cache``, else OUT/.teacher-cache/<teacher> (built there)."""
    name = options.teacher_model if options.teacher_model in ("u2net", "u2netp") else Path(str(options.teacher_model)).stem
    return Path(options.cache) if options.cache else options.out / ".teacher-cache" / name


def teacher_views(options: TrainOptions, config: ModelConfig, photos: list, progress: Progress) -> list:
    """The training photos' cached views (``lab/distil.py``). Without ``cache``, the missing views
    are made first in OUT/.teacher-cache (resumable); a given ``cache`` is only read, so it may still be
    growing in the background. Photos without a view are counted and left out."""
    from bgapp.lab.distil import build_cache, cache_spec, cached_views, seconds_per_1000
    from bgapp.lab.teachers import NAMED, load_teacher

    cache = teacher_cache_folder(options)
    wanted = options.teacher_model if options.teacher_model in NAMED else Path(str(options.teacher_model)).stem
    if options.cache is None:
        teacher = load_teacher(options.teacher_model, options.teacher_file, options.teacher_threads)
        size = cache_spec(cache)["size"] if (cache / "cache.json").exists() else config.size
        done = build_cache(photos, teacher, cache, options.views, size, options.seed, progress)
        if done["written"]:
            progress(f"  teacher cache: {done['written']} views in {done['seconds']:.0f} s "
                     f"({seconds_per_1000(done['seconds'], done['written'])})")
        dataset.report_problems(done["problems"], progress)
    spec = cache_spec(cache)
    if spec["teacher"] != wanted:
        raise BgappError(f"--cache {cache} holds {spec['teacher']}'s answers, not {wanted}'s")
    views, missing = cached_views(cache, photos)
    count = sum(len(files) for _, files in views)
    progress(f"teacher {spec['teacher']}: {count} cached views of {len(views)} training photos in {cache}"
             + (f"; {missing} photos have none yet and are left out" if missing else ""))
    return views


def teacher_probabilities(name: str, folders: tuple[Path, ...], images: np.ndarray,
                          progress: Progress) -> np.ndarray:
    """The average class probabilities (N, side, side, 3) float16 of the trained ``name`` models in
    ``folders`` on the decoded photos, each run the way its card says it cuts out (input size, mirror)."""
    from bgapp.core.models import card_look, read_config
    from bgapp.core.runtime import predictor

    total = np.zeros(images.shape[:3] + (3,), np.float16)  # half the memory: 2.8 GB for 5,000 photos
    for folder in folders:
        meta = read_config(name, Path(folder))
        if meta is None:
            raise BgappError(f"--teacher {folder}: no {name}.json there")
        size, mirror = card_look(meta)
        look = predictor(name, size, str(folder))
        for index, image in enumerate(images):
            total[index] += look.probabilities(image, mirror) / len(folders)
            if (index + 1) % 1000 == 0:
                progress(f"  teacher {folder}: {index + 1}/{len(images)}")
    return total


def soft_targets(labels: np.ndarray, teacher: np.ndarray | None, weight: float) -> np.ndarray:
    """Training targets as class probabilities x 255 (uint8, (N, H, W, 3)): ``1 - weight`` of the
    true classes (``labels``, 0-based class numbers (N, H, W, 1)) plus ``weight`` of ``teacher``'s.
    Why blend rather than replace: the teacher's own mistakes stay outvoted where the mask is sure."""
    out = np.empty(labels.shape[:3] + (3,), np.uint8)
    for start in range(0, len(labels), 256):  # in slices: 5,000 photos at 280 px are 5 GB as float32
        part = slice(start, start + 256)
        blend = np.eye(3, dtype=np.float32)[labels[part, ..., 0]]
        if teacher is not None:
            blend = (1.0 - weight) * blend + weight * teacher[part]
        out[part] = np.round(np.clip(blend, 0.0, 1.0) * 255.0)
    return out
