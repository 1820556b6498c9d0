"""What distillation adds to training: the teachers' answers as soft targets (the project's own trained
models, averaged, or an ONNX teacher's cached views from ``lab/distil.py``), blended with the true masks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from bgapp.core.errors import BgappError
from bgapp.core.models import ModelConfig
from bgapp.lab import datasets as dataset
from bgapp.lab.options import TrainOptions

Progress = Callable[[str], None]


def teacher_cache_folder(options: TrainOptions) -> Path:
    """The view cache ``train`` reads: ``cache``, else OUT/.teacher-cache/<teacher> (built there)."""
    name = (
        options.teacher_model if options.teacher_model in ("u2net", "u2netp") else Path(str(options.teacher_model)).stem
    )
    return Path(options.cache) if options.cache else options.out / ".teacher-cache" / name


def teacher_views(options: TrainOptions, config: ModelConfig, photos: list, progress: Progress) -> list:
    """The training photos' cached views (``lab/distil.py``). Without ``cache``, the missing views
    are made first in OUT/.teacher-cache (resumable); a given ``cache`` is only read, so it may still be
    growing in the background. Photos without a view are counted and left out."""
    from bgapp.lab.distil import build_cache, cache_spec, cached_views, seconds_per_1000
    from bgapp.lab.teachers import NAMED, load_teacher

    if not options.teacher_model:
        raise BgappError("the teacher's views need a teacher: --teacher u2net, u2netp or FILE.onnx")
    cache = teacher_cache_folder(options)
    wanted = options.teacher_model if options.teacher_model in NAMED else Path(str(options.teacher_model)).stem
    if options.cache is None:
        teacher = load_teacher(options.teacher_model, options.teacher_file, options.teacher_threads)
        size = cache_spec(cache)["size"] if (cache / "cache.json").exists() else config.size
        done = build_cache(photos, teacher, cache, options.views, size, options.seed, progress)
        if done["written"]:
            progress(
                f"  teacher cache: {done['written']} views in {done['seconds']:.0f} s "
                f"({seconds_per_1000(done['seconds'], done['written'])})"
            )
        dataset.report_problems(done["problems"], progress)
    spec = cache_spec(cache)
    if spec["teacher"] != wanted:
        raise BgappError(f"--cache {cache} holds {spec['teacher']}'s answers, not {wanted}'s")
    views, _ = cached_views(cache, photos)
    count = sum(len(files) for _, files in views)
    cached = {photo.key for photo, _ in views}
    labelled = sum(1 for p in photos if p.labelled and p.key not in cached)
    unlabelled = sum(1 for p in photos if not p.labelled and p.key not in cached)
    progress(
        f"teacher {spec['teacher']}: {count} cached views of {len(views)} training photos in {cache}"
        + (f"; {labelled} labelled photos without views learn from their true masks alone" if labelled else "")
        + (f"; {unlabelled} unlabelled photos without views are left out" if unlabelled else "")
    )
    return views


def stream_weights(
    tags: list[str], cached: dict[str, int], uncached: dict[str, int], mix: tuple[float, ...] | None
) -> list[tuple[str, str, float]]:
    """How often a distillation run draws from each stream: (tag, "views" or "masks", share).

    Each folder (``tags``: --data, --extra, then --unlabelled) is drawn with its ``mix`` weight (or in
    proportion to its photos without one), and inside a folder its cached photos (the teacher's views)
    and its labelled photos without views (their true masks, augmented as in plain training) in
    proportion to their numbers: a partial cache then changes the targets, not the balance of the
    folders. Unlabelled folders, which ``mix`` does not cover, count as many photos of the average
    labelled weight. Shares sum to 1; empty streams are left out."""
    sizes = {tag: cached.get(tag, 0) + uncached.get(tag, 0) for tag in tags}
    if mix is None:
        folder = {tag: float(sizes[tag]) for tag in tags}
    else:
        labelled = tags[: len(mix)]
        per_photo = sum(mix) / max(1, sum(sizes[tag] for tag in labelled))
        folder = {tag: (float(mix[i]) if i < len(mix) else sizes[tag] * per_photo) for i, tag in enumerate(tags)}
    shares = [
        (tag, kind, folder[tag] * count / sizes[tag])
        for tag in tags
        if sizes[tag] and folder[tag] > 0
        for kind, count in (("views", cached.get(tag, 0)), ("masks", uncached.get(tag, 0)))
        if count
    ]
    total = sum(share for _, _, share in shares)
    if not total:
        raise BgappError("no training photos: none has a cached view or a true mask")
    return [(tag, kind, share / total) for tag, kind, share in shares]


def mixed_stream(
    tf,
    views: list,
    images: np.ndarray | None,
    labels: np.ndarray | None,
    names: list[str],
    tags: list[str],
    mix: tuple[float, ...] | None,
    size: int,
    batch: int,
    weight: float,
    seed: int,
    first_epoch: int = 0,
):
    """Batches of a distillation run: the teacher's cached views (``views``, soft targets) mixed per
    example with the augmented labelled photos that have none (``images``/``labels`` as soft targets,
    ``names`` their keys), by ``stream_weights``. Why: a cache that covers only part of the photos
    (it takes an hour per 3,600 views of u2net here) must not drop the rest of the training set."""
    from bgapp.lab.augment import augmented
    from bgapp.lab.distil import tf_view_stream

    cached: dict[str, int] = {}
    for photo, _ in views:
        cached[photo.key.split("/", 1)[0]] = cached.get(photo.key.split("/", 1)[0], 0) + 1
    uncached: dict[str, int] = {}
    for name in names:
        uncached[name.split("/", 1)[0]] = uncached.get(name.split("/", 1)[0], 0) + 1
    streams: list = []  # tf.data.Dataset each (TensorFlow has no type information)
    shares = []
    for tag, kind, share in stream_weights(tags, cached, uncached, mix):
        if kind == "views":
            chosen = [entry for entry in views if entry[0].key.split("/", 1)[0] == tag]
            streams.append(tf_view_stream(tf, chosen, size, None, weight, seed + len(streams), first_epoch))
        else:
            index = np.array([i for i, name in enumerate(names) if name.split("/", 1)[0] == tag])
            assert images is not None and labels is not None  # photos without a view come with their arrays
            streams.append(
                augmented(
                    tf,
                    images[index],
                    labels[index],
                    [index],
                    None,
                    size,
                    None,
                    seed + len(streams) + 1000 * first_epoch,
                )
            )
        shares.append(share)
    stream = (
        streams[0]
        if len(streams) == 1
        else tf.data.Dataset.sample_from_datasets(streams, weights=shares, seed=seed + first_epoch)
    )
    return stream.batch(batch).prefetch(2)


def teacher_probabilities(name: str, folders: tuple[Path, ...], images: np.ndarray, progress: Progress) -> np.ndarray:
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
