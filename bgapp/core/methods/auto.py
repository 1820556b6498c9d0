"""``auto``, the default method of every front end: the best cut-out this machine can make.

It builds on the strongest network that runs here (the highest ``Method.rank``: u2net once fetched,
else our shipped ``unet-product``) and adds what no single network does (``core/auto.py``): our
network's answer beside the strongest one's, a second look at the product through a crop around it,
and, on a plain backdrop, a colour model of the backdrop that flags (or, when asked, brings back) parts
of the product the networks dropped. Each step was chosen on hold-outs, never on DUTS-TE (docs/auto.md gives the figures).
The combined answer is kept per photo, so moving the Cut-off re-runs no network.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bgapp.core import auto as steps
from bgapp.core.methods import Method, all_methods
from bgapp.core.params import Param, ParamValue, cutoff_param

NAME = "auto"
OURS = "unet-product"
QUALITY_NETWORK = "u2net"  # what the studio offers to fetch where auto runs on the shipped network alone
QUALITY_GAIN = (
    "On 1,000 real test photos the default's cut-outs overlap the exact outline of the object by 79 % on "
    "average with it (IoU 0.788), against 74 % with the shipped network alone (0.745); each photo takes "
    "about 0.6 s more on 2 cores."
)
NETWORKS = ("best", "shipped")

PARAMS = (
    cutoff_param("the combined answer", "the answer"),
    Param(
        "networks",
        "choice",
        "best",
        choices=NETWORKS,
        label="Networks",
        help="best: the strongest network installed (u2net once fetched) with ours beside it; "
        "shipped: only the network that ships with bgapp (fast, works offline).",
    ),
    Param(
        "second_look",
        "bool",
        True,
        label="Second look",
        expert=True,
        help="Where our network is the strongest one here, it looks again at a square crop around the product "
        "and the two looks are averaged there: a small product is seen with more pixels (about 50 ms more).",
    ),
    Param(
        "backdrop",
        "bool",
        False,
        label="Plain backdrop model",
        expert=True,
        help="When the photo's border is a plain backdrop (a studio shot on white, grey or a colour), parts "
        "that clearly differ from the backdrop and that the networks half-saw are kept (a dark strap on "
        "white, every item of a flat-lay). Off by default: on our labelled photos it cost more than it "
        "gained; a cut-out where it would add much is flagged 'check' either way.",
    ),
    Param(
        "soft",
        "bool",
        False,
        label="Soft mask",
        expert=True,
        help="Use the combined answer itself as the mask (soft where the networks are unsure) instead of "
        "cutting it at the Cut-off.",
    ),
)


def plan(networks: str) -> tuple[Method | None, Method | None]:
    """(the strongest network that runs here, our network beside it or None): with ``networks`` =
    ``shipped`` only the networks that ship with bgapp count. (None, None) when no network runs."""
    from bgapp.core.models import MODELS

    found = [
        m
        for m in all_methods().values()
        if m.rank > 0 and m.name != NAME and m.available() is None and (networks == "best" or m.name in MODELS)
    ]
    if not found:
        return None, None
    base = max(found, key=lambda m: m.rank)
    ours = next((m for m in found if m.name == OURS), None)
    return base, (ours if ours is not None and ours is not base else None)


def answer_of(method: Method, rgb: np.ndarray) -> np.ndarray:
    """A network's own 0..1 answer for ``rgb`` with its default settings: its probability where it has
    one, else its soft mask."""
    params = method.resolve({})
    if method.confidence is not None:
        return np.asarray(method.confidence(rgb, params), np.float32)
    soft = {"soft": True} if any(p.name == "soft" for p in method.params) else {}
    return method.run(rgb, soft)


class _Kept:
    """The last photo's combined answer and what ran, shared by the studio's sessions and download
    threads: one lock, so no reader sees a half-written answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: tuple | None = None
        self.run: steps.Combined | None = None


_KEPT = _Kept()


def combined(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> steps.Combined:
    """The combined answer for ``rgb`` (kept for the last photo and settings: a Cut-off move or the
    download right after the preview costs no network run)."""
    base, ours = plan(str(params["networks"]))  # a network fetched meanwhile is used from the next photo on
    key = (
        hashlib.sha1(np.ascontiguousarray(rgb).data).hexdigest(),
        rgb.shape,
        base and base.name,
        ours and ours.name,
        bool(params["second_look"]),
        bool(params["backdrop"]),
    )
    with _KEPT.lock:
        if _KEPT.key == key and _KEPT.run is not None:
            return _KEPT.run
    run = steps.combine(
        rgb, base, ours, answer_of, second_look=bool(params["second_look"]), backdrop=bool(params["backdrop"])
    )
    with _KEPT.lock:
        _KEPT.key, _KEPT.run = key, run
    return run


def segment(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
    answer = combined(rgb, params).alpha
    return answer if params["soft"] else (answer > float(params["threshold"])).astype(np.float32)


@dataclass(frozen=True)
class Ready:
    """What ``prepare`` hands back: what runs the strongest network, for the caption ("network on the CPU")."""

    device: str | None


def prepare(params: Mapping[str, ParamValue]) -> Ready:
    """Load the networks ``auto`` will run, ahead of the first photo."""
    from bgapp.core.runtime import device_of

    base, ours = plan(str(params["networks"]))
    if ours is not None:
        ours.prepare(ours.resolve({}))
    loaded = None if base is None else base.prepare(base.resolve({}))
    device = getattr(loaded, "device", None)
    if device is None and hasattr(loaded, "get_providers"):  # a bare ONNX Runtime session (rembg's networks)
        device = device_of(loaded)
    return Ready(device)


def available() -> str | None:
    return None  # with no network at all it still runs (GrabCut's answer; ``explain`` says so)


def explain(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> str:
    return combined(rgb, params).ran


def doubts(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> list[str]:
    return list(combined(rgb, params).doubts)


def confidence(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
    return combined(rgb, params).alpha


def shipped_only() -> Method:
    """``auto`` as a user without the internet gets it (``networks=shipped``), a row of its own in ``bench``."""
    import dataclasses

    params = tuple(dataclasses.replace(p, default="shipped") if p.name == "networks" else p for p in PARAMS)
    return dataclasses.replace(
        METHOD, name="auto-shipped", params=params, summary="auto with only the network that ships with bgapp (offline)"
    )


METHOD = Method(
    name=NAME,
    summary="The best cut-out this machine can make: the strongest network installed (u2net once fetched, else "
    "our unet-product), our network beside it or a second look at the product, and 'check' where its "
    "looks disagree. The default.",
    params=PARAMS,
    segment=segment,
    family="deep",
    cleanup_defaults={"open_size": 1, "close_size": 1, "min_area": 0.0},
    available=available,
    prepare=prepare,
    explain=explain,
    doubts=doubts,
    confidence=confidence,
)
