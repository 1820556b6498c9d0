"""Distillation from an ONNX teacher (rembg's u2net): which photos, the view cache, the targets.

Photos come from three kinds of folder, each photo named ``"<tag>/<name>"`` (the tag is the
folder's name, made unique):
- ``--data``: labelled sets, held out for validation together exactly as ``train`` always has, so
  a run that adds folders of the other kinds keeps the same validation photos as before;
- ``--extra``: more labelled sets (e.g. ../shared/data/duts-tr-extra, the DUTS layout), each held out
  on its own with the same fraction and seed, so adding one never moves the ``--data`` hold-out;
- ``--unlabelled``: any folder of photos, training only (no truth to validate on); a photo named
  like a validation photo is left out, and a DUTS-TE folder is refused.

The cache (``python -m bgapp teacher-cache``; ``train --teacher u2net`` builds what is missing
first) holds, per training photo, views 0..K-1 (``lab/views.py``): one uint8 PNG of the teacher's
answer at the cache size per view, with the view's parameters in the PNG's text. A view is
written whole or not at all (temporary file, then rename), so a killed build resumes where it
stopped, and a deleted file is simply made again. Training reads the views back, draws each
view of the photo itself from the parameters (so the student sees exactly what the teacher
saw), warps the true mask by the same view and blends (``view_target``).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, PngImagePlugin

from bgapp.core.errors import BgappError
from bgapp.lab import datasets
from bgapp.lab.views import ViewParams, draw_view, render_mask, render_view

Progress = Callable[[str], None]
CACHE_VERSION = 1
VIEW_KEY = "bgapp-view"  # the PNG text entry that holds a view's parameters


@dataclass(frozen=True)
class Photo:
    """One photo of a distillation run: ``key`` is ``"<tag>/<name>"``, its name in the cache."""

    key: str
    root: Path
    name: str
    labelled: bool


def folder_tags(roots: list[Path]) -> list[str]:
    """A short, unique, file-name-safe tag per folder (its name; -2, -3 ... on a clash)."""
    tags: list[str] = []
    for root in roots:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(root).resolve().name) or "photos"
        tag, count = base, 1
        while tag in tags:
            count += 1
            tag = f"{base}-{count}"
        tags.append(tag)
    return tags


def unlabelled_photos(root: Path) -> list[tuple[str, Path]]:
    """(name, file) of the photos in ``root`` (or ``root/images``), sorted; a test split is refused."""
    root = Path(root)
    if any(part.upper() == "DUTS-TE" or part.lower() == "test" for part in root.resolve().parts):
        raise BgappError(f"--unlabelled {root}: a test split is never a training source")
    folder = root / "images" if (root / "images").is_dir() else root
    found = [(p.stem, p) for p in sorted(folder.iterdir()) if p.suffix.lower() in datasets.IMAGE_SUFFIXES]
    if not found:
        raise BgappError(f"--unlabelled {root}: no photos there")
    return found


def split_sources(
    data: tuple[Path, ...],
    extra: tuple[Path, ...] = (),
    unlabelled: tuple[Path, ...] = (),
    fraction: float = 0.1,
    seed: int = 0,
    split: str = "trainval",
) -> tuple[list[Photo], list[Photo], list[str], dict[str, Path]]:
    """(training photos, validation photos, listing problems, tag -> folder) of a run."""
    roots = [*map(Path, data), *map(Path, extra), *map(Path, unlabelled)]
    tags = folder_tags(roots)
    where = dict(zip(tags, roots))
    problems: list[str] = []

    def listed(index: int) -> list[Photo]:
        listing = datasets.list_split(roots[index], split)
        problems.extend(f"{roots[index]}: {line}" for line in listing.problems)
        return [Photo(f"{tags[index]}/{pair.name}", roots[index], pair.name, True) for pair in listing.pairs]

    main = [photo for index in range(len(data)) for photo in listed(index)]
    _train_keys, val_keys = datasets.split_holdout([p.key for p in main], fraction, seed) if main else ([], [])
    held = set(val_keys)
    train = [p for p in main if p.key not in held]
    val = [p for p in main if p.key in held]
    for index in range(len(data), len(data) + len(extra)):
        photos = listed(index)
        _, extra_val = datasets.split_holdout([p.key for p in photos], fraction, seed)
        held_here = set(extra_val)
        train += [p for p in photos if p.key not in held_here]
        val += [p for p in photos if p.key in held_here]
    val_names = {p.name for p in val}
    for index in range(len(data) + len(extra), len(roots)):
        for name, _ in unlabelled_photos(roots[index]):
            if name in val_names:
                problems.append(f"{roots[index]}: {name} is named like a validation photo: left out")
            else:
                train.append(Photo(f"{tags[index]}/{name}", roots[index], name, False))
    return train, val, problems, where


def load_photo(photo: Photo) -> tuple[np.ndarray, np.ndarray | None]:
    """(RGB uint8, 0..1 truth or None) of one photo at its own size."""
    if photo.labelled:
        rgb, _, truth = datasets.load_truth(photo.root, photo.name)
        return rgb, truth
    from bgapp.core.images import load_image

    folder = photo.root / "images" if (photo.root / "images").is_dir() else photo.root
    path = next(
        (folder / f"{photo.name}{s}" for s in datasets.IMAGE_SUFFIXES if (folder / f"{photo.name}{s}").exists()), None
    )
    if path is None:
        raise BgappError(f"{photo.key}: no photo in {folder}")
    return load_image(path).rgb, None


def entry_path(cache: Path, key: str, index: int) -> Path:
    """Where view ``index`` of photo ``key`` lives in the cache."""
    tag, name = key.split("/", 1)
    return Path(cache) / tag / f"{name}.{index}.png"


def _check_spec(cache: Path, spec: dict) -> None:
    """Write ``cache.json`` the first time; later, refuse a cache made with another teacher, size or seed."""
    path = Path(cache) / "cache.json"
    if path.exists():
        old = json.loads(path.read_text())
        for key in ("version", "teacher", "size", "seed"):
            if old.get(key) != spec[key]:
                raise BgappError(
                    f"{cache} was built with {key} {old.get(key)!r}, not {spec[key]!r}: use another cache folder"
                )
        spec = {
            **old,
            "views": max(old.get("views", 0), spec["views"]),
            "sources": {**old.get("sources", {}), **spec["sources"]},
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(spec, indent=1))


def cache_spec(cache: Path) -> dict:
    """The cache's ``cache.json`` (teacher, size, seed, views, sources), or a one-line error."""
    path = Path(cache) / "cache.json"
    if not path.exists():
        raise BgappError(f"{cache}: no teacher cache there (build it: python -m bgapp teacher-cache ... --out {cache})")
    return json.loads(path.read_text())


def write_entry(path: Path, answer: np.ndarray, params: ViewParams, photo_size: tuple[int, int]) -> None:
    """One view's teacher answer as an 8-bit PNG carrying the view's parameters; atomic."""
    info = PngImagePlugin.PngInfo()
    info.add_text(VIEW_KEY, json.dumps({"view": json.loads(params.to_json()), "photo": list(photo_size)}))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(np.clip(np.round(answer * 255.0), 0, 255).astype(np.uint8)).save(tmp, format="PNG", pnginfo=info)
    tmp.replace(path)


def read_entry(path: Path) -> tuple[ViewParams, tuple[int, int], np.ndarray]:
    """(view parameters, (photo width, height), teacher answer float32 0..1) of one cached view."""
    with Image.open(path) as handle:
        if not isinstance(handle, PngImagePlugin.PngImageFile):  # the cache writes PNGs: their text holds the view
            raise BgappError(f"{path}: not a PNG of the teacher cache")
        meta = json.loads(handle.text[VIEW_KEY])
        answer = np.asarray(handle.convert("L"), np.float32) / 255.0
    return ViewParams(**meta["view"]), tuple(meta["photo"]), answer


def build_cache(
    photos: list[Photo],
    teacher,
    cache: Path,
    views: int,
    size: int,
    seed: int,
    progress: Progress = print,
    every_s: float = 10.0,
) -> dict:
    """The teacher's answers on views 0..``views``-1 of every photo, skipping those already cached.
    Returns {"written", "cached", "failed", "seconds", "problems"}; failures do not stop the rest."""
    _check_spec(
        cache,
        {
            "version": CACHE_VERSION,
            "teacher": teacher.name,
            "teacher_file": str(teacher.path),
            "teacher_bytes": Path(teacher.path).stat().st_size,
            "size": size,
            "seed": seed,
            "views": views,
            "sources": {},
        },
    )
    todo = [(photo, [k for k in range(views) if not entry_path(cache, photo.key, k).exists()]) for photo in photos]
    todo = [(photo, missing) for photo, missing in todo if missing]
    total = sum(len(missing) for _, missing in todo)
    cached = len(photos) * views - total
    progress(f"teacher-cache: {total} views to make ({len(todo)} photos), {cached} already in {cache}")
    written, problems, start, said = 0, [], time.perf_counter(), time.perf_counter()
    for photo, missing in todo:
        try:
            rgb, _ = load_photo(photo)
        except BgappError as error:
            problems.append(str(error))
            continue
        height, width = rgb.shape[:2]
        for k in missing:
            params = draw_view(seed, photo.key, k, width, height)
            answer = teacher.answer(render_view(rgb, params, teacher.side))
            if answer.shape != (size, size):
                answer = cv2.resize(
                    answer, (size, size), interpolation=cv2.INTER_AREA if answer.shape[0] > size else cv2.INTER_LINEAR
                )
            write_entry(entry_path(cache, photo.key, k), answer, params, (width, height))
            written += 1
        now = time.perf_counter()
        if now - said >= every_s or written == total:
            rate = written / max(now - start, 1e-9)
            eta = (total - written) / max(rate, 1e-9)
            progress(
                f"  {written}/{total} views ({100.0 * written / max(total, 1):.0f} %), {rate:.2f} views/s, "
                f"ETA {_duration(eta)}"
            )
            said = now
    seconds = time.perf_counter() - start
    return {
        "written": written,
        "cached": cached,
        "failed": len(problems),
        "seconds": round(seconds, 1),
        "problems": problems,
    }


def _duration(seconds: float) -> str:
    return (
        f"{seconds:.0f} s"
        if seconds < 120
        else (f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h")
    )


def cached_views(cache: Path, photos: list[Photo]) -> tuple[list[tuple[Photo, list[Path]]], int]:
    """The training photos that have cached views, with their view files (in view order); and how
    many have none. Each tag's folder is listed once (a glob per photo would read it 8,000 times)."""
    listed: dict[str, dict[str, list[tuple[int, Path]]]] = {}
    found, none = [], 0
    for photo in photos:
        tag, name = photo.key.split("/", 1)
        if tag not in listed:
            listed[tag] = {}
            folder = Path(cache) / tag
            for entry in os.scandir(folder) if folder.is_dir() else ():
                stem, _, index = entry.name[:-4].rpartition(".")
                if entry.name.endswith(".png") and index.isdigit() and stem:
                    listed[tag].setdefault(stem, []).append((int(index), Path(entry.path)))
        files = [path for _, path in sorted(listed[tag].get(name, []))]
        if files:
            found.append((photo, files))
        else:
            none += 1
    return found, none


def saliency_classes(saliency: np.ndarray) -> np.ndarray:
    """A teacher's 0..1 saliency map as the student's 3 class probabilities (object, background,
    border): background 1 - s; s goes to border on the rim of the teacher's own cut-out (as a true
    mask's trimap is made, ``datasets.trimap_from_mask``), to object elsewhere."""
    s = np.clip(saliency.astype(np.float32), 0.0, 1.0)
    rim = datasets.trimap_from_mask(s, border=datasets.MASK_BORDER) == datasets.BORDER
    return np.stack([np.where(rim, 0.0, s), 1.0 - s, np.where(rim, s, 0.0)], axis=-1).astype(np.float32)


def view_target(teacher: np.ndarray, truth: np.ndarray | None, weight: float) -> np.ndarray:
    """The training target of one view, (H, W, 3) class probabilities: ``weight`` of the teacher's
    classes plus ``1 - weight`` of the true mask's (both warped by the view), the teacher's alone
    where there is no true mask."""
    taught = saliency_classes(teacher)
    if truth is None:
        return taught
    true = np.eye(3, dtype=np.float32)[datasets.trimap_from_mask(truth, border=datasets.MASK_BORDER) - 1]
    return weight * taught + (1.0 - weight) * true


def view_example(
    photo: Photo, rgb: np.ndarray, truth: np.ndarray | None, entry: Path, size: int, weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """(the view uint8 (size, size, 3), its target as probabilities x 255 uint8) of one cached view."""
    params, photo_size, answer = read_entry(entry)
    if photo_size != (rgb.shape[1], rgb.shape[0]):
        raise BgappError(
            f"{photo.key}: the photo is {rgb.shape[1]}x{rgb.shape[0]}, its cached views were "
            f"made on {photo_size[0]}x{photo_size[1]}: rebuild them"
        )
    if answer.shape != (size, size):
        answer = cv2.resize(
            answer, (size, size), interpolation=cv2.INTER_AREA if answer.shape[0] > size else cv2.INTER_LINEAR
        )
    view = render_view(rgb, params, size)
    mask = None if truth is None else render_mask(truth, params, size)
    target = view_target(answer, mask, weight)
    return view, np.clip(np.round(target * 255.0), 0, 255).astype(np.uint8)


def view_schedule(
    entries: list[tuple[Photo, list[Path]]], seed: int, first_epoch: int = 0
) -> Iterator[tuple[int, int]]:
    """Endless (photo index, view index) pairs: each epoch every photo once, in a seeded order, with
    one of its cached views drawn at random; epoch e is the same on a resumed run."""
    epoch = first_epoch
    while True:
        rng = np.random.default_rng([seed, 7919, epoch])
        for index in rng.permutation(len(entries)):
            yield int(index), int(rng.integers(len(entries[index][1])))
        epoch += 1


def view_stream(
    entries: list[tuple[Photo, list[Path]]], size: int, weight: float, seed: int, first_epoch: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The examples of ``view_schedule``: (view, target) pairs."""
    for index, view in view_schedule(entries, seed, first_epoch):
        photo, files = entries[index]
        rgb, truth = load_photo(photo)
        yield view_example(photo, rgb, truth, files[view], size, weight)


def tf_view_stream(
    tf,
    entries: list[tuple[Photo, list[Path]]],
    size: int,
    batch: int | None,
    weight: float,
    seed: int,
    first_epoch: int = 0,
):
    """``view_stream`` as batches of (float32 RGB 0..255, float32 class probabilities) for Keras
    (``batch`` None: single examples, to be mixed with other streams before batching).
    The schedule is one Python generator; the examples are made in parallel (decoding and OpenCV
    let go of the GIL), in the schedule's order, so a GPU is not starved by one core."""

    def example(index, view):
        photo, files = entries[int(index)]
        rgb, truth = load_photo(photo)
        return view_example(photo, rgb, truth, files[int(view)], size, weight)

    def made(index, view):
        x, y = tf.numpy_function(example, [index, view], [tf.uint8, tf.uint8])
        x.set_shape((size, size, 3))
        y.set_shape((size, size, 3))
        return tf.cast(x, tf.float32), tf.cast(y, tf.float32) / 255.0

    schedule = tf.data.Dataset.from_generator(
        lambda: view_schedule(entries, seed, first_epoch),
        output_signature=(tf.TensorSpec((), tf.int64), tf.TensorSpec((), tf.int64)),
    )
    stream = schedule.map(made, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return stream if batch is None else stream.batch(batch).prefetch(2)


def seconds_per_1000(seconds: float, views: int) -> str:
    """A build's cost in words: seconds per view and hours per 1,000 views."""
    per = seconds / max(views, 1)
    return f"{per:.2f} s a view, {per * 1000 / 3600:.2f} h per 1,000 views"
