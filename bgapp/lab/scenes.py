"""Training scenes for product photos with exact masks (``python -m bgapp make-scenes``).

Each scene: a background, one to three foregrounds, shadows and reflections that belong to the
background (never to the mask), then camera effects. Foregrounds are either products drawn by
``synth`` (shading, specular highlights, labels, holes, pale and dark, glossy) or pets cut out of
Oxford-IIIT Pet photos with their trimaps (real fur and real edges). Backgrounds are studio sweeps,
gradients, paper, fabric, wood, concrete, a tabletop seen in perspective, or a real background
taken from a Pet photo's background region. Camera effects: colour cast, lighting gradient, blur,
noise, JPEG. The mask is the foregrounds' exact coverage; the trimap's border is its soft edge.

Train and test scenes never share a source: ``--split test`` takes pets (foregrounds and
background regions) only from the Pet test list, ``--split trainval`` only from trainval, and the
seed differs, so nothing seen in training appears in evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bgapp.lab import datasets as dataset
from bgapp.lab import synth

STUDIO = ("white", "grey", "gradient", "paper", "fabric", "wood", "pastel")
BACKGROUND_KINDS = (*STUDIO, "concrete", "tabletop", "photo")


@dataclass(frozen=True)
class Source:
    """A Pet photo and its trimap: a foreground to cut out and a background region to borrow."""

    rgb: np.ndarray
    trimap: np.ndarray


@dataclass(frozen=True)
class GeneratedScene:
    rgb: np.ndarray  # uint8 photo
    alpha: np.ndarray  # float32 exact coverage of the foregrounds
    shadow: np.ndarray  # float32 how much shadows darken the background (never in alpha)
    meta: dict


def load_sources(root: Path, split: str, limit: int | None = None) -> list[Source]:
    """Pet photos and trimaps of one split (read once; scenes reuse them)."""
    names = dataset.read_split(root, split)[: limit or None]
    return [Source(*dataset.load_example(root, name)) for name in names]


def make_scene(seed: int, size: tuple[int, int] = (384, 288), sources: list[Source] | None = None) -> GeneratedScene:
    """One scene of (width, height) ``size``; a pure function of its arguments."""
    rng = np.random.default_rng(seed)
    width, height = size
    kinds = BACKGROUND_KINDS if sources else BACKGROUND_KINDS[:-1]
    kind = str(rng.choice(kinds))
    background = _background(kind, (height, width), rng, sources)
    layers = []
    count = int(rng.choice([1, 1, 1, 2, 3]))
    for index in range(count):
        use_pet = bool(sources) and rng.random() < 0.35
        scale = float(rng.uniform(0.45, 0.8)) * (1.0 if index == 0 else 0.6)
        layer = (
            _pet_layer(sources, rng, (height, width), scale)
            if use_pet and sources
            else _product_layer(int(rng.integers(1 << 30)), (height, width), rng, scale)
        )
        layers.append(layer)
    alpha = np.zeros((height, width), np.float32)
    colour = np.zeros((height, width, 3), np.float32)
    shadow = np.zeros((height, width), np.float32)
    for fg, cover in layers:  # later layers in front
        shadow = np.maximum(shadow, _shadow(cover, rng))
    reflective = kind in ("white", "grey", "gradient", "pastel", "tabletop") and rng.random() < 0.25
    for fg, cover in layers:
        if reflective:
            background = _reflect(background, fg, cover, rng)
        colour = fg * cover[..., None] + colour * (1.0 - cover[..., None])
        alpha = cover + alpha * (1.0 - cover)
    background = background * (1.0 - shadow[..., None])
    photo = colour + background * (1.0 - alpha[..., None])  # colour is premultiplied by alpha
    photo = _camera(photo, rng)
    quality = int(rng.integers(60, 96))
    _ok, data = cv2.imencode(
        ".jpg", np.clip(np.rint(photo), 0, 255).astype(np.uint8)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if decoded is None:  # a JPEG OpenCV just wrote: never, but say so rather than index None
        raise RuntimeError(f"scene {seed}: the JPEG round trip failed")
    rgb = np.ascontiguousarray(decoded[..., ::-1])
    meta = {
        "seed": seed,
        "background": kind,
        "objects": count,
        "reflection": reflective,
        "jpeg": quality,
        "shadow_max": round(float(shadow.max()), 3),
    }
    visible_shadow = shadow * (1.0 - alpha)  # shadows darken only the background that shows
    return GeneratedScene(rgb, np.clip(alpha, 0, 1), visible_shadow, meta)


def write_scenes(
    out: Path,
    split: str,
    count: int,
    seed: int,
    size: tuple[int, int],
    sources: list[Source] | None,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Render ``count`` scenes into ``out`` in the Oxford-IIIT Pet layout and list them in ``<split>.txt``."""
    names = []
    for index in range(count):
        scene = make_scene(seed * 1_000_003 + index, size, sources)
        name = f"{split}_{seed}_{index:05d}"
        dataset.write_example(out, name, scene.rgb, dataset.trimap_from_mask(scene.alpha, border=2), quality=97)
        names.append(name)
        if progress:
            progress(index + 1, count)
    dataset.write_split(out, split, names)
    return names


# --- foregrounds ----------------------------------------------------------------------------------


def _product_layer(seed: int, shape_hw: tuple[int, int], rng: np.random.Generator, scale: float):
    """A rendered product (colour, exact coverage) at a random place and size."""
    height, width = shape_hw
    product = str(rng.choice(synth.PRODUCTS))
    scene = synth.render_scene(seed, (width, height), "grey", product, pale=rng.random() < 0.2, shadow=0.0)
    return _place(scene.foreground.astype(np.float32), scene.alpha, shape_hw, rng, scale)


def _pet_layer(sources: list[Source], rng: np.random.Generator, shape_hw: tuple[int, int], scale: float):
    """A pet cut out with its trimap: object = 1, the unclassified border a ramp from 1 next to the pet
    to 0 next to the background (so the old backdrop's colour there fades out instead of forming a halo).
    Pets cut by the photo's frame are skipped: a straight cut in mid-scene is not a real edge."""
    for _ in range(10):
        source = sources[int(rng.integers(len(sources)))]
        pet = source.trimap != dataset.BACKGROUND
        frame = np.concatenate([pet[0], pet[-1], pet[:, 0], pet[:, -1]])
        if frame.mean() < 0.02:
            break
    obj = (source.trimap == dataset.OBJECT).astype(np.uint8)
    to_object = cv2.distanceTransform(1 - obj, cv2.DIST_L2, 3)
    to_background = cv2.distanceTransform(pet.astype(np.uint8), cv2.DIST_L2, 3)
    alpha = np.where(source.trimap == dataset.BORDER, to_background / np.maximum(to_object + to_background, 1e-3), 0.0)
    alpha[obj > 0] = 1.0
    return _place(source.rgb.astype(np.float32), alpha.astype(np.float32), shape_hw, rng, scale)


def _place(colour: np.ndarray, alpha: np.ndarray, shape_hw: tuple[int, int], rng: np.random.Generator, scale: float):
    """Crop to the object, scale its longer side to ``scale`` of the frame's shorter side, put it somewhere."""
    height, width = shape_hw
    ys, xs = np.nonzero(alpha > 0.01)
    if not len(xs):
        return np.zeros((height, width, 3), np.float32), np.zeros((height, width), np.float32)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    crop_c, crop_a = colour[y0:y1, x0:x1], alpha[y0:y1, x0:x1]
    factor = scale * min(height, width) / max(x1 - x0, y1 - y0)
    new_w, new_h = max(2, int((x1 - x0) * factor)), max(2, int((y1 - y0) * factor))
    new_w, new_h = min(new_w, width), min(new_h, height)
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    crop_c = cv2.resize(crop_c * crop_a[..., None], (new_w, new_h), interpolation=interpolation)
    crop_a = np.clip(cv2.resize(crop_a, (new_w, new_h), interpolation=interpolation), 0, 1)
    left = int(rng.integers(0, width - new_w + 1))
    top = int(rng.integers(int(0.1 * (height - new_h)), height - new_h + 1))
    colour_out = np.zeros((height, width, 3), np.float32)
    alpha_out = np.zeros((height, width), np.float32)
    colour_out[top : top + new_h, left : left + new_w] = crop_c / np.maximum(crop_a[..., None], 1e-4)
    alpha_out[top : top + new_h, left : left + new_w] = crop_a
    return np.clip(colour_out, 0, 255), alpha_out


# --- backgrounds ----------------------------------------------------------------------------------


def _background(
    kind: str, shape_hw: tuple[int, int], rng: np.random.Generator, sources: list[Source] | None
) -> np.ndarray:
    height, width = shape_hw
    if kind in STUDIO:
        return synth._background(kind, shape_hw, rng, pale=False)
    if kind == "concrete":
        return _concrete(shape_hw, rng)
    if kind == "tabletop":
        wall = synth._background(str(rng.choice(("white", "grey", "pastel", "paper"))), shape_hw, rng, False)
        table = (
            _concrete(shape_hw, rng)
            if rng.random() < 0.4
            else synth._background(str(rng.choice(("wood", "fabric", "paper"))), shape_hw, rng, False)
        )
        horizon = int(rng.uniform(0.3, 0.55) * height)
        spread = rng.uniform(0.15, 0.4) * width
        src = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
        dst = np.array(
            [[spread, horizon], [width - spread, horizon], [width + spread, height], [-spread, height]], np.float32
        )
        warped = cv2.warpPerspective(
            table, cv2.getPerspectiveTransform(src, dst), (width, height), borderMode=cv2.BORDER_REFLECT
        )
        out = wall.copy()
        out[horizon:] = warped[horizon:] * rng.uniform(0.8, 1.0)
        return cv2.GaussianBlur(out, (0, 0), 0.7)
    assert sources
    return _photo_background(sources[int(rng.integers(len(sources)))], shape_hw, rng)


def _concrete(shape_hw: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    height, width = shape_hw
    noise = rng.normal(0, 1, (height, width)).astype(np.float32)
    texture: np.ndarray = synth._blur_large(noise, 12) * 90 + cv2.GaussianBlur(noise, (0, 0), 1.0) * 9
    pores = (rng.random((height, width)) < 0.004).astype(np.float32)
    texture -= cv2.GaussianBlur(pores, (0, 0), 0.8) * 120
    tone = rng.uniform(120, 200) * np.array([1.0, 0.99, 0.96], np.float32)
    return np.clip(tone[None, None, :] + texture[..., None], 0, 255)


def _photo_background(source: Source, shape_hw: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A window of a Pet photo with (almost) no pet in it, or the photo with the pet painted over."""
    height, width = shape_hw
    h, w = source.trimap.shape
    pet = source.trimap != dataset.BACKGROUND
    for _ in range(25):
        side_w = int(rng.uniform(0.3, 0.6) * w)
        side_h = min(h, int(side_w * height / width))
        top, left = int(rng.integers(0, h - side_h + 1)), int(rng.integers(0, w - side_w + 1))
        if pet[top : top + side_h, left : left + side_w].mean() < 0.01:
            crop = source.rgb[top : top + side_h, left : left + side_w]
            return cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    small = cv2.resize(source.rgb, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    hole = cv2.dilate(
        cv2.resize(pet.astype(np.uint8), (w // 4, h // 4), interpolation=cv2.INTER_NEAREST), np.ones((5, 5), np.uint8)
    )
    filled = cv2.inpaint(small, hole, 5, cv2.INPAINT_TELEA)
    return cv2.GaussianBlur(cv2.resize(filled, (width, height)), (0, 0), 2.0).astype(np.float32)


# --- shadows, reflections, camera -----------------------------------------------------------------


def _shadow(cover: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Contact and drop shadow of one foreground, 0..0.85; strong in a quarter of the scenes."""
    if cover.max() < 0.5:
        return np.zeros_like(cover)
    strength = float(rng.uniform(0.5, 0.8) if rng.random() < 0.25 else rng.uniform(0.0, 0.45))
    return synth._shadow(cover > 0.5, strength, rng) * (1.0 - cover)


def _reflect(background: np.ndarray, fg: np.ndarray, cover: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A faded mirror image under the object, as on glossy acrylic: background, not product."""
    ys = np.nonzero(cover.max(axis=1) > 0.5)[0]
    if not len(ys):
        return background
    base = int(ys.max())
    height = background.shape[0]
    span = min(base - int(ys.min()), height - base - 1)
    if span < 4:
        return background
    mirror_c = fg[base - span : base][::-1]
    mirror_a = cover[base - span : base][::-1] * np.linspace(rng.uniform(0.15, 0.35), 0, span)[:, None]
    out = background.copy()
    region = out[base + 1 : base + 1 + span]
    out[base + 1 : base + 1 + span] = mirror_c * mirror_a[..., None] + region * (1 - mirror_a[..., None])
    return out


def _camera(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = photo.shape[:2]
    cast = rng.uniform(0.92, 1.08, 3).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = np.cos(angle) * xs / width + np.sin(angle) * ys / height
    light = 1.0 + rng.uniform(0.0, 0.18) * (ramp - ramp.mean())
    photo = photo * cast[None, None, :] * light[..., None]
    if rng.random() < 0.3:
        photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.4, 1.2))
    return photo + rng.normal(0, rng.uniform(0.5, 4.0), photo.shape).astype(np.float32)
