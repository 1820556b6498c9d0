"""The lab: how methods are made and judged. Datasets, training (TensorFlow, imported only here),
the Keras -> ONNX export, evaluation, the benchmark and its baselines, rendered scenes."""

import os

os.environ.setdefault(
    "TF_CPP_MIN_LOG_LEVEL", "3"
)  # TensorFlow start-up chatter (CUDA probes...) is not for users; failures still raise
