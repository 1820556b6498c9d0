"""Reading a segmentation dataset in the Oxford-IIIT Pet layout (also what ``make-scenes`` writes).

    DIR/images/<name>.jpg                 photos (any format the loader reads)
    DIR/annotations/trimaps/<name>.png    uint8 trimap: 1 = object, 2 = background, 3 = border
    DIR/annotations/<split>.txt           one name per line, first token ("trainval", "test")

Images are read through the app's loader, so palette, RGBA and CMYK files in the dataset are
handled the same way a user's upload is.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..errors import BgappError
from ..images import load_image

OBJECT, BACKGROUND, BORDER = 1, 2, 3
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def read_split(root: Path, split: str) -> list[str]:
    """Names listed in ``annotations/<split>.txt`` (comments and blank lines skipped), in file order."""
    listing = Path(root) / "annotations" / f"{split}.txt"
    if not listing.exists():
        raise BgappError(f"{listing} not found: expected the Oxford-IIIT Pet layout "
                         "(images/, annotations/trimaps/, annotations/trainval.txt and test.txt)")
    names = []
    for line in listing.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(line.split()[0])
    if not names:
        raise BgappError(f"{listing} lists no images")
    return names


def image_path(root: Path, name: str) -> Path:
    """The photo file for ``name`` (the dataset uses .jpg; generated sets may use .png)."""
    for suffix in IMAGE_SUFFIXES:
        path = Path(root) / "images" / f"{name}{suffix}"
        if path.exists():
            return path
    raise BgappError(f"no image for {name!r} in {Path(root) / 'images'}")


def load_example(root: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8, trimap uint8 with values 1/2/3) of one listed image, same height and width."""
    rgb = load_image(image_path(root, name)).rgb
    trimap_file = Path(root) / "annotations" / "trimaps" / f"{name}.png"
    if not trimap_file.exists():
        raise BgappError(f"trimap {trimap_file} not found")
    with Image.open(trimap_file) as handle:
        trimap = np.asarray(handle.convert("L") if handle.mode not in ("L", "P") else handle, dtype=np.uint8)
    if trimap.shape != rgb.shape[:2]:
        raise BgappError(f"{name}: trimap {trimap.shape} and photo {rgb.shape[:2]} differ in size")
    return rgb, trimap


def foreground(trimap: np.ndarray) -> np.ndarray:
    """Binary truth for cut-outs: object and border pixels (the border is the object's edge)."""
    return (trimap != BACKGROUND).astype(np.float32)


def split_holdout(names: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, validation) names: a seeded shuffle, ``fraction`` held out (at least one image each)."""
    order = np.random.default_rng(seed).permutation(len(names))
    count = min(len(names) - 1, max(1, round(len(names) * fraction)))
    held = {names[i] for i in order[:count]}
    return [n for n in names if n not in held], [n for n in names if n in held]


def trimap_from_mask(mask: np.ndarray, border: int = 2) -> np.ndarray:
    """A trimap from a 0..1 mask, in the Pet coding: the object's inner ``border``-px rim and every
    partly covered pixel are border, the rest of the object is object, the rest is background.

    The border lies *inside* the object (plus its soft fringe), so object + border is the object
    itself: a cut-out's truth is never dilated into the background."""
    hard = (mask >= 0.5).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * border + 1, 2 * border + 1))
    inner = cv2.erode(hard, kernel, borderType=cv2.BORDER_REPLICATE)
    trimap = np.full(mask.shape, BACKGROUND, np.uint8)
    trimap[hard > 0] = BORDER
    trimap[(mask > 0.02) & (mask < 0.98)] = BORDER
    trimap[inner > 0] = OBJECT
    return trimap


def write_example(root: Path, name: str, rgb: np.ndarray, trimap: np.ndarray, quality: int = 92) -> None:
    """Write one photo (JPEG) and its trimap (PNG) in the layout ``read_split`` and ``load_example`` read."""
    (Path(root) / "images").mkdir(parents=True, exist_ok=True)
    (Path(root) / "annotations" / "trimaps").mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(Path(root) / "images" / f"{name}.jpg", quality=quality)
    Image.fromarray(trimap).save(Path(root) / "annotations" / "trimaps" / f"{name}.png")


def write_split(root: Path, split: str, names: list[str]) -> None:
    """``annotations/<split>.txt`` with one name per line (the official files' first column)."""
    (Path(root) / "annotations").mkdir(parents=True, exist_ok=True)
    (Path(root) / "annotations" / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))


def write_synthetic_dataset(root: Path, count: int, size: tuple[int, int], test_count: int, seed: int = 100) -> Path:
    """Rendered product shots with exact trimaps in this layout (tests and smoke runs; no photos needed):
    the first ``count - test_count`` listed in trainval.txt, the rest in test.txt."""
    from .. import synth

    names = []
    for index in range(count):
        scene = synth.render_scene(seed + index, size, synth.BACKGROUNDS[index % len(synth.BACKGROUNDS)],
                                   synth.PRODUCTS[index % len(synth.PRODUCTS)])
        name = f"scene_{index:02d}"
        write_example(root, name, scene.rgb, trimap_from_mask(scene.alpha, border=1))
        names.append(name)
    write_split(root, "trainval", names[: count - test_count])
    write_split(root, "test", names[count - test_count:])
    return Path(root)
