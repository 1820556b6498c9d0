"""TensorFlow's native start-up lines ("Could not find cuda drivers", "failed call to cuInit", absl's
"All log messages before absl::InitializeLog()") are written by C++ straight to file descriptor 2,
before any Python logging setting applies. They say nothing a user can act on, so the lab imports
TensorFlow with that descriptor pointed at /dev/null; Python's own errors are unaffected."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (Python's ``sys.stderr`` is flushed first)."""
    if os.environ.get("BGAPP_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow():
    """``tensorflow`` (and Keras), imported and its devices probed quietly."""
    with native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe runs here, not in the middle of training
    return tf
