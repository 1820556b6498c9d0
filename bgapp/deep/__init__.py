"""Deep models: U-Net builders, the dataset reader, training, and inference on shipped weights.

Everything that imports TensorFlow lives in ``models``, ``train`` and ``runtime`` and is imported
only when a deep method runs or a model is trained, so the classical path and the app start fast.
``data`` and ``cards`` are plain NumPy/OpenCV.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter is not for users
