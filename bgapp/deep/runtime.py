"""Inference with shipped weights, on ONNX Runtime when the model has an ``.onnx`` file, else TensorFlow.

ONNX Runtime is the default: it loads a network in well under a second and prints nothing, where
``import tensorflow`` and building the Keras model cost 6-8 s and a screenful of log lines before a
seller's first photo. The ONNX file is the same network (``onnx_export.py``; equal to the Keras
output within 1e-5, tested). It runs on a GPU when ONNX Runtime has one (the onnxruntime-gpu
build), else on the CPU. ``BGAPP_RUNTIME=tensorflow`` forces the Keras model: calling it eagerly
at batch 1 costs 130-220 ms of overhead per call here, so it runs behind a fixed-signature
``tf.function`` (20-50 ms). Predictors are cached per (model, input size, folder), so moving a
slider in the app never reloads a network.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import importlib.util
import os

import cv2
import numpy as np

from ..errors import ModelUnavailableError
from .presets import ModelConfig, model_files, read_config


@dataclass(frozen=True)
class Predictor:
    """A loaded model at one input size: RGB uint8 of any size in, class probabilities out."""

    name: str
    size: int
    run: Callable[[np.ndarray], np.ndarray]
    device: str = "CPU"  # what runs it, in words the app shows: "CPU (ONNX Runtime)", "GPU (CUDA, ONNX Runtime)"

    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) float32 probabilities of object, background, border at the photo's own size."""
        height, width = rgb.shape[:2]
        shrink = cv2.INTER_AREA if min(height, width) > self.size else cv2.INTER_LINEAR
        square = cv2.resize(rgb, (self.size, self.size), interpolation=shrink).astype(np.float32)
        probs = self.run(square[None])[0]
        return cv2.resize(probs, (width, height), interpolation=cv2.INTER_LINEAR)


def load_weights(model, path: Path) -> None:
    """Set the weights saved by ``train.export_weights`` (float16 kernels come back as float32)."""
    with np.load(path) as stored:
        values = [stored[key].astype(np.float32) for key in sorted(stored.files)]
    expected = model.get_weights()
    if len(values) != len(expected) or any(a.shape != b.shape for a, b in zip(values, expected)):
        raise ModelUnavailableError(f"{path} does not match the network described next to it; retrain or re-export it")
    model.set_weights(values)


def runtime_for(name: str, folder: Path | None = None) -> str | None:
    """``onnx`` or ``tensorflow``: what would run model ``name`` here; None when neither can."""
    files = model_files(name, folder)
    wanted = os.environ.get("BGAPP_RUNTIME", "").lower()
    onnx_ok = files["onnx"].exists() and importlib.util.find_spec("onnxruntime") is not None
    tf_ok = files["weights"].exists() and importlib.util.find_spec("tensorflow") is not None
    if wanted == "tensorflow":
        return "tensorflow" if tf_ok else None
    return "onnx" if onnx_ok else ("tensorflow" if tf_ok else None)


@lru_cache(maxsize=8)
def predictor(name: str, size: int, folder: str | None = None) -> Predictor:
    """The cached predictor for model ``name`` at input ``size`` (files from the weights folder)."""
    where = Path(folder) if folder else None
    files = model_files(name, where)
    meta = read_config(name, where)
    runtime = runtime_for(name, where)
    if meta is None or runtime is None:
        raise ModelUnavailableError(
            f"no usable weights for {name} in {files['weights'].parent} (NAME.onnx with onnxruntime, or "
            f"NAME.npz with TensorFlow): train them with `python -m bgapp train --model {name} ...` or set BGAPP_WEIGHTS")
    predictor = _onnx_predictor(name, size, files["onnx"]) if runtime == "onnx" else _tf_predictor(name, size, files, meta)
    predictor.run(np.zeros((1, size, size, 3), np.float32))  # warm up now, not on the user's first photo
    return predictor


def _onnx_predictor(name: str, size: int, path: Path) -> Predictor:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: nothing on a seller's terminal
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                 if p in onnxruntime.get_available_providers()]
    session = onnxruntime.InferenceSession(str(path), options, providers=providers)
    device = "GPU (CUDA, ONNX Runtime)" if session.get_providers()[0] == "CUDAExecutionProvider" else "CPU (ONNX Runtime)"

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {"rgb": np.ascontiguousarray(batch, np.float32)})[0]

    return Predictor(name, size, run, device)


def _tf_predictor(name: str, size: int, files: dict[str, Path], meta: dict) -> Predictor:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the terminal
    import tensorflow as tf

    from .models import build_unet

    config = ModelConfig.from_json({**meta["config"], "size": size})
    model = build_unet(config)
    load_weights(model, files["weights"])

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32)])
    def infer(batch):
        return model(batch, training=False)

    def run(batch: np.ndarray) -> np.ndarray:
        return infer(tf.constant(batch)).numpy()

    device = "GPU (TensorFlow)" if tf.config.list_logical_devices("GPU") else "CPU (TensorFlow)"
    return Predictor(name, size, run, device)
