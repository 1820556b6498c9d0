"""U-Net builders: one decoder, interchangeable encoders (the segmentation_models layout).

Every model takes float32 RGB in 0..255 of shape (S, S, 3), S a multiple of 32, and returns
per-pixel probabilities of 3 classes in the Oxford-IIIT Pet trimap order shifted to 0-based:
0 = object, 1 = background, 2 = border (the object's edge). Normalisation lives inside the model
(a Rescaling layer), so callers never need to know which encoder expects which input range.

Encoders hand the decoder one feature map per stride 2, 4, 8, 16 and 32. For Keras application
encoders the maps are found by their spatial size (the last layer at each stride), not by
hard-coded layer names, which change between Keras versions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from bgapp.core.errors import ModelUnavailableError
from bgapp.core.models import ModelConfig
from bgapp.lab.quiet import import_tensorflow

import_tensorflow()
import keras  # noqa: E402 - after TensorFlow's quiet start
from keras import layers  # noqa: E402

NUM_CLASSES = 3
STRIDES = (2, 4, 8, 16, 32)
BN_MOMENTUM = 0.9


def build_unet(config: ModelConfig) -> keras.Model:
    """The U-Net for ``config``: encoder features at strides 2..32, the shared decoder, 3-class softmax."""
    if config.size % 32:
        raise ValueError(f"input size must be a multiple of 32, got {config.size}")
    if config.encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {config.encoder!r}: allowed {', '.join(ENCODERS)}")
    inputs = keras.Input((config.size, config.size, 3), name="rgb")
    if config.guidance:
        if not config.encoder.startswith("effnet-lite"):
            raise ValueError(f"guidance maps are only wired into the effnet-lite encoders, not {config.encoder}")
        from bgapp.lab.effnet import encoder_features

        guide = keras.Input((config.size, config.size, config.guidance), name="guide")
        features, _ = encoder_features(inputs, guide=guide, variant=config.encoder)
        model_inputs = [inputs, guide]
    else:
        features = ENCODERS[config.encoder](inputs, config)
        model_inputs = inputs
    outputs = decoder(inputs, features, config.decoder)
    model = keras.Model(model_inputs, outputs, name=f"unet_{config.encoder}")
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            # Keras' MobileNets use momentum 0.999: with ~20 steps an epoch on a small dataset the
            # moving statistics would need ~50 epochs to catch up, and validation would see garbage.
            layer.momentum = BN_MOMENTUM
    return model


def decoder(
    inputs: keras.KerasTensor, features: list[keras.KerasTensor], filters: tuple[int, ...]
) -> keras.KerasTensor:
    """Upsample from stride 32 to 2, joining each encoder map on the way, then classes at stride 2
    brought to full size bilinearly. Depthwise-separable convs keep it small; skipping a
    full-resolution stage halves training time on a CPU and costs little, because the full-size
    edge comes from the refinement step (guided filter on the photo) anyway."""
    x = features[-1]
    for index, (skip, width) in enumerate(zip(reversed(features[:-1]), filters)):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"dec{index}_up")(x)
        x = layers.Concatenate(name=f"dec{index}_cat")([x, skip])
        x = _separable_block(x, width, f"dec{index}_a")
        x = _separable_block(x, width, f"dec{index}_b")
    x = layers.Conv2D(NUM_CLASSES, 1, name="logits")(x)
    x = layers.UpSampling2D(2, interpolation="bilinear", name="logits_up")(x)
    return layers.Softmax(dtype="float32", name="classes")(x)


def _conv_block(x: keras.KerasTensor, width: int, name: str) -> keras.KerasTensor:
    x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _separable_block(x: keras.KerasTensor, width: int, name: str) -> keras.KerasTensor:
    x = layers.SeparableConv2D(width, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def features_by_stride(model: keras.Model, size: int) -> list[keras.KerasTensor]:
    """The last layer output at each stride in ``STRIDES`` (spatial side ``size // stride``)."""
    found: dict[int, keras.KerasTensor] = {}
    for layer in model.layers:
        output = layer.output
        shape = getattr(output, "shape", None)
        if shape is None or len(shape) != 4 or shape[1] != shape[2] or not shape[1]:
            continue
        if size % shape[1] == 0 and size // shape[1] in STRIDES:
            found[size // shape[1]] = output
    missing = [s for s in STRIDES if s not in found]
    if missing:
        raise ValueError(f"encoder {model.name} has no feature map at stride {missing}")
    return [found[s] for s in STRIDES]


def _mobilenetv2(inputs: keras.KerasTensor, config: ModelConfig) -> list[keras.KerasTensor]:
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="mnv2_scale")(inputs)
    base = keras.applications.MobileNetV2(input_tensor=x, alpha=config.width, include_top=False, weights=None)
    return features_by_stride(base, config.size)


def _mobilenetv3(inputs: keras.KerasTensor, config: ModelConfig) -> list[keras.KerasTensor]:
    # include_preprocessing: the model scales 0..255 itself, as the application expects.
    base = keras.applications.MobileNetV3Large(
        input_tensor=inputs, alpha=config.width, include_top=False, weights=None, include_preprocessing=True
    )
    return features_by_stride(base, config.size)


def _plain(inputs: keras.KerasTensor, config: ModelConfig) -> list[keras.KerasTensor]:
    """The classic U-Net encoder: two 3x3 convs per level, max-pooling between; widths scaled by ``width``."""
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="plain_scale")(inputs)
    widths = [max(8, round(w * config.width)) for w in (24, 48, 96, 160, 256)]
    features = []
    for level, width in enumerate(widths):
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
        x = _conv_block(x, width, f"enc{level}_a")
        x = _conv_block(x, width, f"enc{level}_b")
        features.append(x)
    return features


def _effnet_lite(inputs: keras.KerasTensor, config: ModelConfig) -> list[keras.KerasTensor]:
    """EfficientNet-Lite0 or -Lite2 without its classifier head; ImageNet weights are loaded by ``train``."""
    from bgapp.lab.effnet import encoder_features

    features, _ = encoder_features(inputs, include_top=False, variant=config.encoder)
    return features


ENCODERS: dict[str, Callable[[keras.KerasTensor, ModelConfig], list[keras.KerasTensor]]] = {
    "mobilenetv2": _mobilenetv2,
    "mobilenetv3": _mobilenetv3,
    "plain": _plain,
    "effnet-lite0": _effnet_lite,
    "effnet-lite2": _effnet_lite,  # 4.4 M encoder parameters: the largest EfficientNet-Lite within the 5 M budget
}


def copy_matching_layers(source: keras.Model, target: keras.Model) -> int:
    """Copy every layer's weights from ``source`` into the layer of the same name and shapes in
    ``target`` (a click network started from the product network); returns how many were copied.
    A layer of ``source`` that ``target`` lacks or shapes differently is an error."""
    by_name = {layer.name: layer for layer in target.layers}
    copied = 0
    for layer in source.layers:
        values = layer.get_weights()
        if not values:
            continue
        other = by_name.get(layer.name)
        if other is None or [v.shape for v in other.get_weights()] != [v.shape for v in values]:
            raise ModelUnavailableError(f"layer {layer.name} has no match in {target.name}")
        other.set_weights(values)
        copied += 1
    return copied


def load_weights(model, path: Path) -> None:
    """Set the weights saved by ``train.export_weights`` (float16 kernels come back as float32)."""
    with np.load(path) as stored:
        values = [stored[key].astype(np.float32) for key in sorted(stored.files)]
    expected = model.get_weights()
    if len(values) != len(expected) or any(a.shape != b.shape for a, b in zip(values, expected)):
        raise ModelUnavailableError(f"{path} does not match the network described next to it; retrain or re-export it")
    model.set_weights(values)
