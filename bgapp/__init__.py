"""bgapp: cut products out of their photos.

    import bgapp
    bgapp.cut("shoe.jpg").save("shoe.png")

The package is three wings: ``bgapp.core`` (load, methods, clean-up, refine, export: the one
pipeline), ``bgapp.lab`` (datasets, training, evaluation, benchmark) and the front ends
(``bgapp.cli``, ``bgapp.app``). ``import bgapp`` loads neither TensorFlow nor a network: networks
load on first use, on ONNX Runtime.
"""

from bgapp._version import __version__
from bgapp.api import cut
from bgapp.core.errors import BgappError, ImageLoadError, ModelUnavailableError, ParamError
from bgapp.core.images import LoadedImage, load_image
from bgapp.core.pipeline import Result

__all__ = [
    "BgappError",
    "ImageLoadError",
    "LoadedImage",
    "ModelUnavailableError",
    "ParamError",
    "Result",
    "__version__",
    "cut",
    "load_image",
]
