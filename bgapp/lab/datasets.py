"""Reading labelled photo sets: the Oxford-IIIT Pet layout, the DUTS layout and plain image/mask folders.

One reader for ``train``, ``evaluate``, ``bench`` and ``make-scenes``, so a shop can train or test on
its own labelled catalogue the same way the project uses the public sets. Three layouts:

    Pet (also what ``make-scenes`` writes)
        DIR/images/<name>.jpg                 photos (any format the loader reads)
        DIR/annotations/trimaps/<name>.png    uint8 trimap: 1 = object, 2 = background, 3 = border
        DIR/annotations/<split>.txt           one name per line, first token ("trainval", "test")
    DUTS (salient-object masks)
        DIR/DUTS-TR/DUTS-TR-Image/<name>.jpg  + DUTS-TR-Mask/<name>.png   split "trainval" (or "train")
        DIR/DUTS-TE/DUTS-TE-Image/<name>.jpg  + DUTS-TE-Mask/<name>.png   split "test"
        (DIR may also be DUTS-TR or DUTS-TE itself; names.txt, when present, fixes the order)
    Folders (a shop's own catalogue)
        DIR/images/<name>.<ext>  + DIR/masks/<name>.png   (8-bit grey, white = product)
        DIR/<split>.txt lists a split's names; without lists the folder is one set that every
        split reads, so keep training and test photos in separate folders.

Masks (DUTS, folders) are cut at 0.5 and turned into trimaps whose border is the object's inner
2-px rim, so every layout trains the same 3-class network. A pair that cannot be used (missing
mask or photo, unreadable file, photo and mask of different sizes) raises a ``BgappError`` naming
it; ``load_examples`` skips such pairs and returns their reasons, so a caller reports them and
goes on. Photos are read through the app's loader, so palette, RGBA and CMYK files in a dataset
are handled the same way a user's upload is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from bgapp.core.errors import BgappError
from bgapp.core.images import load_image

OBJECT, BACKGROUND, BORDER = 1, 2, 3
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif")
MASK_BORDER = 2  # px of a mask's inner rim marked "border" in the trimap made from it
DUTS_SPLITS = {"trainval": "DUTS-TR", "train": "DUTS-TR", "test": "DUTS-TE"}


@dataclass(frozen=True)
class Pair:
    """Where one labelled photo's files are; ``kind`` says whether the label is a trimap or a mask."""

    name: str
    image: Path | None
    label: Path | None
    kind: str  # "trimap" | "mask"


@dataclass
class Listing:
    """The usable pairs of one split, and the ones left out with a one-line reason each."""

    pairs: list[Pair]
    problems: list[str] = field(default_factory=list)


def layout(root: Path) -> str:
    """``pet``, ``duts`` or ``folders``, from what ``root`` holds; a one-line error otherwise."""
    root = Path(root)
    if (root / "annotations").is_dir():
        return "pet"
    if any((root / sub).is_dir() for sub in ("DUTS-TR", "DUTS-TE")) or root.name in ("DUTS-TR", "DUTS-TE"):
        return "duts"
    if (root / "images").is_dir() and (root / "masks").is_dir():
        return "folders"
    raise BgappError(
        f"{root}: not a dataset folder; expected the Oxford-IIIT Pet layout (images/, "
        "annotations/), the DUTS layout (DUTS-TR/, DUTS-TE/) or images/ + masks/"
    )


def _stems(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """name -> file for the files in ``folder`` with one of ``suffixes`` (first suffix wins)."""
    found: dict[str, Path] = {}
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in suffixes and path.stem not in found:
                found[path.stem] = path
    return found


def _listed(path: Path) -> list[str] | None:
    """Names in a split file (first token per line; comments and blank lines skipped), or None."""
    if not path.exists():
        return None
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def _pair_up(
    names: list[str] | None, images: dict[str, Path], labels: dict[str, Path], kind: str, where: Path
) -> Listing:
    """Pairs for ``names`` (default: every photo), each photo without a label (or the reverse) a problem."""
    listing = Listing([])
    for name in names if names is not None else sorted(images):
        image, label = images.get(name), labels.get(name)
        if image is None:
            listing.problems.append(f"{name}: no photo in {where}")
        elif label is None:
            listing.problems.append(f"{name}: no {kind} for {image.name}")
        else:
            listing.pairs.append(Pair(name, image, label, kind))
    if names is None:
        listing.problems += [
            f"{name}: {kind} {labels[name].name} has no photo" for name in sorted(set(labels) - set(images))
        ]
    return listing


def list_split(root: Path, split: str) -> Listing:
    """The labelled pairs of ``split`` in ``root`` (any layout), and the problems found while listing."""
    root = Path(root)
    kind = layout(root)
    if kind == "pet":
        names = _listed(root / "annotations" / f"{split}.txt")
        if names is None:
            raise BgappError(
                f"{root / 'annotations' / (split + '.txt')} not found: expected the Oxford-IIIT Pet "
                "layout (images/, annotations/trimaps/, annotations/trainval.txt and test.txt)"
            )
        listing = _pair_up(
            names,
            _stems(root / "images", IMAGE_SUFFIXES),
            _stems(root / "annotations" / "trimaps", (".png",)),
            "trimap",
            root / "images",
        )
    elif kind == "duts":
        if split not in DUTS_SPLITS:
            raise BgappError(f"{root}: DUTS has the splits {', '.join(DUTS_SPLITS)}, not {split!r}")
        sub = DUTS_SPLITS[split]
        base = root if root.name == sub else root / sub
        if not base.is_dir():
            raise BgappError(f"{root}: no {sub} folder for the {split!r} split")
        listing = _pair_up(
            _listed(base / "names.txt"),
            _stems(base / f"{sub}-Image", IMAGE_SUFFIXES),
            _stems(base / f"{sub}-Mask", (".png",)),
            "mask",
            base / f"{sub}-Image",
        )
    else:
        listing = _pair_up(
            _listed(root / f"{split}.txt"),
            _stems(root / "images", IMAGE_SUFFIXES),
            _stems(root / "masks", (".png",)),
            "mask",
            root / "images",
        )
    if not listing.pairs:
        raise BgappError(
            f"{root}: the {split!r} split has no usable photo"
            + (f" ({listing.problems[0]})" if listing.problems else "")
        )
    return listing


def read_split(root: Path, split: str) -> list[str]:
    """Names of the usable pairs of ``split``, in the dataset's order."""
    return [pair.name for pair in list_split(Path(root), split).pairs]


def _find(folder: Path, name: str, suffixes: tuple[str, ...]) -> Path | None:
    return next((folder / f"{name}{suffix}" for suffix in suffixes if (folder / f"{name}{suffix}").exists()), None)


def _pair(root: Path, name: str) -> Pair:
    """The files of ``name`` in ``root``, found directly (no listing: loading N images stays O(N))."""
    kind = layout(root)
    if kind == "pet":
        places = [(root / "images", root / "annotations" / "trimaps", "trimap")]
    elif kind == "duts":
        subs = [root.name] if root.name in ("DUTS-TR", "DUTS-TE") else ["DUTS-TR", "DUTS-TE"]
        bases = [root if root.name == sub else root / sub for sub in subs]
        places = [(base / f"{base.name}-Image", base / f"{base.name}-Mask", "mask") for base in bases]
    else:
        places = [(root / "images", root / "masks", "mask")]
    for images, labels, label_kind in places:
        image = _find(images, name, IMAGE_SUFFIXES)
        if image is not None:
            label = _find(labels, name, (".png",))
            if label is None:
                raise BgappError(f"{name}: no {label_kind} for {image.name}")
            return Pair(name, image, label, label_kind)
    raise BgappError(f"{name}: no photo in {root}")


def _read_label(pair: Pair) -> np.ndarray:
    """The label as uint8: trimap values 1/2/3, or a 0..255 mask."""
    if pair.label is None:
        raise BgappError(f"{pair.name}: no {pair.kind}")
    try:
        with Image.open(pair.label) as handle:
            if handle.mode in ("I;16", "I;16B", "I"):
                values = np.asarray(handle, dtype=np.float64)
                return np.round(values * 255.0 / max(values.max(), 1.0)).astype(np.uint8)
            return np.asarray(handle if handle.mode in ("L", "P") else handle.convert("L"), dtype=np.uint8)
    except (OSError, ValueError) as error:
        raise BgappError(f"{pair.name}: {pair.kind} {pair.label.name} cannot be read ({error})") from error


def load_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(RGB uint8, trimap uint8 1/2/3, truth float32 0/1) of one pair, all the photo's size."""
    if pair.image is None:
        raise BgappError(f"{pair.name}: no photo")
    rgb = load_image(pair.image).rgb
    label = _read_label(pair)
    if label.shape != rgb.shape[:2]:
        raise BgappError(
            f"{pair.name}: {pair.kind} {label.shape[1]}x{label.shape[0]} and photo "
            f"{rgb.shape[1]}x{rgb.shape[0]} differ in size"
        )
    if pair.kind == "trimap":
        if not np.isin(label, (OBJECT, BACKGROUND, BORDER)).all():
            raise BgappError(f"{pair.name}: a trimap holds only 1, 2 and 3")
        return rgb, label, foreground(label)
    truth = (label >= 128).astype(np.float32)
    return rgb, trimap_from_mask(truth, border=MASK_BORDER), truth


def load_example(root: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8, trimap uint8 with values 1/2/3) of one listed image, same height and width."""
    rgb, trimap, _ = load_pair(_pair(Path(root), name))
    return rgb, trimap


def load_truth(root: Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(RGB, trimap, binary truth) of one listed image: the truth is what a cut-out is scored against."""
    return load_pair(_pair(Path(root), name))


def iter_examples(
    root: Path, split: str, limit: int | None = None, problems: list[str] | None = None, listing: Listing | None = None
) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, RGB, trimap, truth) for each usable pair of ``split``; a pair that fails to load is
    skipped and its one-line reason appended to ``problems`` (as are the ones found when listing).
    ``listing``: the split already listed by the caller, so the folder is not read twice."""
    listing = listing or list_split(Path(root), split)
    if problems is not None:
        problems.extend(listing.problems)
    for pair in listing.pairs[: limit or None]:
        try:
            yield (pair.name, *load_pair(pair))
        except BgappError as error:
            if problems is None:
                raise
            problems.append(str(error))


def report_problems(problems: list[str], say: Callable[[str], None], shown: int = 10) -> None:
    """One line per left-out pair (the first ``shown``), then how many more: never a silent skip."""
    if not problems:
        return
    say(f"left out {len(problems)} unusable pair(s):")
    for line in problems[:shown]:
        say(f"  {line}")
    if len(problems) > shown:
        say(f"  ... and {len(problems) - shown} more")


def foreground(trimap: np.ndarray) -> np.ndarray:
    """Binary truth for cut-outs: object and border pixels (the border is the object's edge)."""
    return (trimap != BACKGROUND).astype(np.float32)


def split_holdout(names: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, validation) names: a seeded shuffle, ``fraction`` held out (at least one image each)."""
    order = np.random.default_rng(seed).permutation(len(names))
    count = min(len(names) - 1, max(1, round(len(names) * fraction)))
    held = {names[i] for i in order[:count]}
    return [n for n in names if n not in held], [n for n in names if n in held]


def holdout_names(roots: list[Path], which: int, fraction: float = 0.1, seed: int = 0) -> set[str]:
    """The names of ``roots[which]`` that ``train --data ROOTS...`` (same ``--val-fraction`` and
    ``--seed``) holds out for validation: what model selection may look at, never the test split."""
    listed = [[pair.name for pair in list_split(Path(root), "trainval").pairs] for root in roots]
    return set(_held_out(listed, which, fraction, seed))


def holdout_by_counts(root: Path, other_counts: list[int], fraction: float = 0.1, seed: int = 0) -> list[str]:
    """``holdout_names`` of ``root`` as the first ``--data`` folder, in its listing's order, where the other
    folders are known only by their pair counts (the hold-out depends on nothing else of them): the
    scripts rebuild ``unet-product``'s hold-out without the generated scenes it trained with."""
    listed = [[pair.name for pair in list_split(Path(root), "trainval").pairs]]
    listed += [[f"x{j}" for j in range(count)] for count in other_counts]
    return _held_out(listed, 0, fraction, seed)


def _held_out(listed: list[list[str]], which: int, fraction: float, seed: int) -> list[str]:
    """The names of folder ``which`` (of the folders' name lists) that the joint seeded hold-out takes."""
    names = [f"{index}/{name}" for index, folder in enumerate(listed) for name in folder]
    _, held = split_holdout(names, fraction, seed)
    prefix = f"{which}/"
    return [name[len(prefix) :] for name in held if name.startswith(prefix)]


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
    from bgapp.lab import synth

    names = []
    for index in range(count):
        scene = synth.render_scene(
            seed + index,
            size,
            synth.BACKGROUNDS[index % len(synth.BACKGROUNDS)],
            synth.PRODUCTS[index % len(synth.PRODUCTS)],
        )
        name = f"scene_{index:02d}"
        write_example(root, name, scene.rgb, trimap_from_mask(scene.alpha, border=1))
        names.append(name)
    write_split(root, "trainval", names[: count - test_count])
    write_split(root, "test", names[count - test_count :])
    return Path(root)
