"""bgapp: cut products out of their photos.

The core is importable without TensorFlow: ``import bgapp`` and the classical methods stay fast;
deep methods import it the first time they run.
"""

from .errors import BgappError, ImageLoadError, ParamError
from .images import LoadedImage, load_image

__all__ = ["BgappError", "ImageLoadError", "ParamError", "LoadedImage", "load_image"]
__version__ = "0.1.0"
