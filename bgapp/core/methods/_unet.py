"""What every U-Net method shares: its parameters, the mask from class probabilities, availability.

The networks answer 3 classes per pixel, as the Oxford-IIIT Pet trimaps do: object, background and
border. For a cut-out, foreground = object + border, because the trimap's border is the object's
own edge (fur, a rim) blended with the background; the refinement step then decides how
transparent each edge pixel is. The network runs on ONNX Runtime (``core/runtime.py``);
TensorFlow is imported only for training (``lab/``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

from bgapp.core.methods import Method
from bgapp.core.models import card_look, read_config
from bgapp.core.params import Param, ParamValue, cutoff_param
from bgapp.core.runtime import Predictor

DEFAULT_SIZE = 160


def unet_method(name: str, summary: str, made_for: str = "product", licence: str = "", rank: int = 0) -> Method:
    """A ``Method`` for the shipped model ``name`` (weights in the weights folder)."""
    meta = read_config(name) or {}
    trained = min(512, max(64, int(meta.get("config", {}).get("size", DEFAULT_SIZE))))
    # A card may name a larger input than the training size, chosen on the validation hold-out
    # (``evaluate --holdout-of``): a fully convolutional network sees small objects better there;
    # and whether to average it with its mirror image (chosen the same way: for unet-product it
    # lifted hold-out IoU on real photos 0.8738 -> 0.8787, scenes 0.9502 -> 0.9524, pets 0.8496 -> 0.8590).
    # Cards without the keys (the pet models) keep the single look their recorded figures were measured with.
    looked, mirror = card_look(meta, DEFAULT_SIZE)
    chosen = min(512, max(64, looked))
    params = (
        Param(
            "size",
            "int",
            chosen,
            min=64,
            max=512,
            step=32,
            label="Network input (px)",
            help=f"Network input in px (the photo is squashed to a square). It was trained at {trained}"
            + (f" and runs at {chosen} by default (better on held-out photos)" if chosen != trained else "")
            + "; larger sees finer detail but costs time and may drift from what it learned. "
            "If a thin part (a strap, a cable, a handle) or a part at the photo's edge is missing, try 384 or 512.",
        ),
        cutoff_param("the network's object+edge probability", "the probability"),
        Param(
            "mirror",
            "bool",
            mirror,
            label="Also look mirrored",
            expert=True,
            help="Run the network on the photo and on its mirror image and average the two: "
            "steadier edges and fewer missed parts, at twice the network's time.",
        ),
        Param(
            "soft",
            "bool",
            False,
            label="Soft mask",
            expert=True,
            help="Use the probability itself as the mask (soft, semi-transparent where the network "
            "is unsure) instead of cutting at the threshold.",
        ),
    )

    def prepare(params: Mapping[str, ParamValue]) -> Predictor:
        """The network at this input size, built, loaded and traced on first use, then cached."""
        from bgapp.core.models import weights_dir
        from bgapp.core.runtime import predictor

        return predictor(name, int(params["size"]), str(weights_dir()))

    last: dict[tuple, np.ndarray] = {}  # the last answer, so confidence() right after segment() costs a hash

    def probabilities(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
        key = (
            hashlib.sha1(np.ascontiguousarray(rgb).data).hexdigest(),
            rgb.shape,
            int(params["size"]),
            bool(params["mirror"]),
        )
        answer = last.get(key)
        if answer is None:  # sessions and download threads share this: never read back what another may clear
            answer = prepare(params).probabilities(rgb, bool(params["mirror"]))
            last.clear()
            last[key] = answer
        return answer

    def confidence(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
        probs = probabilities(rgb, params)
        return probs[..., 0] + probs[..., 2]

    def segment(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
        product = confidence(rgb, params)
        if params["soft"]:
            return product
        return (product > float(params["threshold"])).astype(np.float32)

    def trimap(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
        """Classes 1 object, 2 background, 3 border (the dataset's coding) at the input's size."""
        return (np.argmax(probabilities(rgb, params), axis=-1) + 1).astype(np.uint8)

    def available() -> str | None:
        from bgapp.core.runtime import predictor_unavailable

        return predictor_unavailable(name)

    return Method(
        name=name,
        summary=summary,
        params=params,
        segment=segment,
        family="deep",
        cleanup_defaults={"open_size": 1, "close_size": 1},
        trimap=trimap,
        available=available,
        prepare=prepare,
        made_for=made_for,
        confidence=confidence,
        licence=licence,
        rank=rank,
    )
