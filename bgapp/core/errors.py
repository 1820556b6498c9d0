"""Exceptions a user can cause.

Every error that bad input or a bad setting can trigger is a ``BgappError`` whose message is one
line a seller understands; the CLI and the app show ``str(error)`` and never a traceback.
"""

from __future__ import annotations


class BgappError(Exception):
    """Base class: an error caused by the user's input or settings, with a one-line message."""


class ImageLoadError(BgappError):
    """The file is not an image we can read (empty, truncated, corrupt, too large, unsupported)."""


class ImageTooLargeError(ImageLoadError):
    """The photo is over the pixel limit (told apart so a server can answer 413, not 400)."""


class ParamError(BgappError):
    """An unknown method or parameter, or a value outside its declared range or choices."""


class ModelUnavailableError(BgappError):
    """A deep method's weights or its runtime (TensorFlow) are not installed."""


class OutputExistsError(BgappError):
    """Writing would replace an existing file (or an input) without ``--overwrite``."""
