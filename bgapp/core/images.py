"""Loading photos safely and encoding results: the only place where PIL and OpenCV formats meet the core.

Inside the core an image is an RGB ``uint8`` array of shape (H, W, 3) and a mask a ``float32``
array of shape (H, W) in 0..1. Everything a user can hand us (JPEG from a phone with EXIF rotation,
16-bit TIFF from a scanner, palette GIF-like PNGs, CMYK JPEGs from a print shop, PNGs with
transparency) is turned into that here, or refused with a one-line ``ImageLoadError``.
"""

from __future__ import annotations

import io
import os
import re
import struct
import tempfile
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from bgapp.core.errors import ImageLoadError, ImageTooLargeError, OutputExistsError

DEFAULT_MAX_MEGAPIXELS = 100.0
SUPPORTED = "JPEG, PNG, WebP, HEIC, AVIF, TIFF, BMP or GIF"
# What the loader reads, as file extensions: the app's uploader accepts exactly these.
EXTENSIONS = ("jpg", "jpeg", "png", "webp", "heic", "heif", "avif", "tif", "tiff", "bmp", "gif")


def _register_heif() -> bool:
    """HEIC/HEIF (the iPhone's default format) through pillow-heif, when installed; AVIF is Pillow's own."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


HEIF = _register_heif()
ImageSource = str | os.PathLike | bytes


@dataclass(frozen=True)
class LoadedImage:
    """A decoded photo: RGB pixels, the input's own alpha (or None), and where it came from."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    name: str
    mode: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), the order people and PIL use."""
        return self.rgb.shape[1], self.rgb.shape[0]


def load_image(
    source: ImageSource, name: str | None = None, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
) -> LoadedImage:
    """Decode a path or bytes into a ``LoadedImage``, or raise ``ImageLoadError`` with a reason a seller understands.

    The pixel limit is checked from the header before any pixel is decoded, so a decompression
    bomb costs nothing.
    """
    data, label = _read_source(source, name)
    if not data:
        raise ImageLoadError(f"{label}: the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            width, height = image.size
            megapixels = width * height / 1e6
            if megapixels > max_megapixels:
                raise ImageTooLargeError(
                    f"{label}: the image is {width}x{height} ({megapixels:.0f} MP), over the "
                    f"{max_megapixels:g} MP limit; shrink it first or raise the limit"
                )
            image.load()
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as error:  # PIL's own guard fires first on enormous headers
        pixels = re.search(r"\((\d+) pixels\)", str(error))
        size = f" ({int(pixels.group(1)) / 1e6:.0f} MP)" if pixels else ""
        raise ImageTooLargeError(
            f"{label}: the image{size} is over the {max_megapixels:g} MP limit; shrink it first"
        ) from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{label}: not an image file we can read (use {SUPPORTED})") from None
    except (OSError, SyntaxError, ValueError) as error:
        reason = "truncated" if "truncated" in str(error).lower() else "damaged or incomplete"
        raise ImageLoadError(f"{label}: the image file is {reason} and cannot be decoded") from None
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001, S110 - a broken EXIF block (any error) must not cost the user the photo;
        pass  # keep the stored orientation
    mode = image.mode
    image = _to_srgb(image)
    rgb, alpha = _to_rgb_and_alpha(image, label)
    return LoadedImage(rgb=rgb, alpha=alpha, name=label, mode=mode)


PhotoLike = ImageSource | Image.Image | np.ndarray | LoadedImage


def as_image(photo: PhotoLike, name: str | None = None, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> LoadedImage:
    """Whatever a library caller holds as a ``LoadedImage``: a path or bytes (through ``load_image``),
    a PIL image (EXIF rotation, colour profile and mode handled like a file's), or an array:
    uint8 grey (H, W), RGB (H, W, 3) or RGBA (H, W, 4); uint16 is scaled to 8 bits, floats are read as 0..1."""
    if isinstance(photo, LoadedImage):
        return photo
    if isinstance(photo, Image.Image):
        label = name or getattr(photo, "filename", "") or "image"
        if photo.width * photo.height / 1e6 > max_megapixels:
            raise ImageTooLargeError(
                f"{label}: the image is {photo.width}x{photo.height}, over the "
                f"{max_megapixels:g} MP limit; shrink it first or raise the limit"
            )
        try:
            photo = ImageOps.exif_transpose(photo)
        except Exception:  # noqa: BLE001, S110 - a broken EXIF block (any error) must not cost the user the photo
            pass
        mode = photo.mode
        rgb, alpha = _to_rgb_and_alpha(_to_srgb(photo), label)
        return LoadedImage(rgb=rgb, alpha=alpha, name=label, mode=mode)
    if isinstance(photo, np.ndarray):
        return _from_array(photo, name or "array", max_megapixels)
    return load_image(photo, name=name, max_megapixels=max_megapixels)


def _from_array(array: np.ndarray, label: str, max_megapixels: float) -> LoadedImage:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)) or 0 in array.shape[:2]:
        raise ImageLoadError(f"{label}: an image array is (H, W), (H, W, 3) or (H, W, 4), not {array.shape}")
    if array.shape[0] * array.shape[1] / 1e6 > max_megapixels:
        raise ImageTooLargeError(f"{label}: {array.shape[1]}x{array.shape[0]} is over the {max_megapixels:g} MP limit")
    if array.dtype == np.uint16:
        array = np.rint(array.astype(np.float64) / 257.0)
    elif array.dtype.kind == "f":
        array = np.rint(np.clip(np.nan_to_num(array.astype(np.float64)), 0.0, 1.0) * 255.0)
    elif array.dtype != np.uint8:
        raise ImageLoadError(f"{label}: arrays of {array.dtype} are not images; use uint8, uint16 or floats in 0..1")
    array = array.astype(np.uint8)
    if array.ndim == 2 or array.shape[2] == 1:
        return LoadedImage(rgb=_gray_to_rgb(array.reshape(array.shape[:2])), alpha=None, name=label, mode="L")
    if array.shape[2] == 4:
        return LoadedImage(
            rgb=np.ascontiguousarray(array[..., :3]), alpha=_alpha_or_none(array[..., 3]), name=label, mode="RGBA"
        )
    return LoadedImage(rgb=np.ascontiguousarray(array), alpha=None, name=label, mode="RGB")


@lru_cache(maxsize=1)
def srgb_profile() -> ImageCms.ImageCmsProfile:
    """The sRGB profile (Pillow's LittleCMS): what loaded photos are converted to and exports are labelled with.

    LittleCMS stamps a new profile with the time it was made, which made two runs' JPEGs differ in
    those bytes; a fixed date (2000-01-01) makes every export byte-identical from run to run."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    data[24:36] = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)  # the header's creation date (no profile ID to redo)
    return ImageCms.ImageCmsProfile(io.BytesIO(bytes(data)))


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert pixels tagged with another colour profile (Display P3 from phones, Adobe RGB, a
    printer's CMYK) into sRGB, the space every export is written and labelled in; otherwise the
    cut-out would look washed out or shifted next to the original. sRGB-tagged and untagged
    images pass untouched; a profile that cannot be read leaves the pixels as they are."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(source).lower().replace(" ", ""):
            return image
        alpha = image.getchannel("A") if image.mode == "RGBA" else None
        colour = image.convert("RGB") if image.mode == "RGBA" else image
        converted = ImageCms.profileToProfile(
            colour, source, srgb_profile(), renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    if converted is None:
        return image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def _read_source(source: ImageSource, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name or "upload"
    path = Path(source)
    label = name or path.name
    if not path.exists():
        raise ImageLoadError(f"{label}: no such file")
    if path.is_dir():
        raise ImageLoadError(f"{label}: is a folder, not an image file")
    try:
        return path.read_bytes(), label
    except OSError as error:
        raise ImageLoadError(f"{label}: cannot be read ({error.strerror or error})") from None


def _to_rgb_and_alpha(image: Image.Image, label: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Every PIL mode to (RGB uint8, alpha float32 or None); high bit depths are scaled, never clipped."""
    mode = image.mode
    if mode in ("P", "PA"):
        image = image.convert("RGBA" if mode == "PA" or "transparency" in image.info else "RGB")
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _gray_to_rgb(_scale_high_depth(np.asarray(image), mode)), None
    elif mode == "1":
        image = image.convert("L")
    if image.mode == "LA":
        array = np.asarray(image)
        return _gray_to_rgb(array[..., 0]), _alpha_or_none(array[..., 1])
    if image.mode == "L":
        return _gray_to_rgb(np.asarray(image)), None
    if image.mode == "RGBA":
        array = np.asarray(image)
        return np.ascontiguousarray(array[..., :3]), _alpha_or_none(array[..., 3])
    try:
        rgb = np.asarray(image.convert("RGB"))  # RGB, CMYK (PIL undoes Adobe's inversion), YCbCr, LAB, HSV
    except (ValueError, OSError):
        raise ImageLoadError(f"{label}: colour mode {mode} is not supported") from None
    return np.ascontiguousarray(rgb), None


def _scale_high_depth(array: np.ndarray, mode: str) -> np.ndarray:
    """16/32-bit integer or float gray to uint8 by scaling the full range (clipping would turn most of it white)."""
    values = array.astype(np.float64)
    if mode == "F":
        top = 1.0 if values.size and values.max() <= 1.0 else max(float(values.max(initial=0.0)), 1.0)
    else:
        top = 65535.0 if values.max(initial=0.0) <= 65535 else float(values.max())
    return np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))


def _alpha_or_none(alpha: np.ndarray) -> np.ndarray | None:
    """Input alpha as float 0..1, or None when the photo is fully opaque (nothing to respect)."""
    if alpha.min() == 255:
        return None
    return alpha.astype(np.float32) / 255.0


def resize_longer_side(rgb: np.ndarray, longer_side: int) -> np.ndarray:
    """A copy whose longer side is at most ``longer_side`` px (area averaging, no aliasing); small images are returned as they are."""
    height, width = rgb.shape[:2]
    scale = longer_side / max(height, width)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def resize_mask(mask: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Bring a float mask to (height, width) with bilinear interpolation, so edges stay smooth when upscaled."""
    height, width = size_hw
    if mask.shape[:2] == (height, width):
        return mask
    shrinking = mask.shape[0] > height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(mask.astype(np.float32), (width, height), interpolation=interpolation)


def encode_png(pixels: np.ndarray, compress_level: int = 1) -> bytes:
    """PNG bytes of an RGB, RGBA (uint8) or mask array. OpenCV's encoder with zlib level 1, the "up"
    filter and run-length matching: a 12 MP cut-out in ~0.2 s and 1.4 MB, where Pillow's level 1
    took 0.55 s for 1.7 MB (a cut-out is mostly flat transparent runs)."""
    if pixels.dtype != np.uint8:
        pixels = to_uint8(pixels)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(
        ".png",
        pixels,
        [
            cv2.IMWRITE_PNG_COMPRESSION,
            compress_level,
            cv2.IMWRITE_PNG_FILTER,
            cv2.IMWRITE_PNG_FILTER_UP,
            cv2.IMWRITE_PNG_STRATEGY,
            cv2.IMWRITE_PNG_STRATEGY_RLE,
        ],
    )
    if not ok:
        raise ValueError("PNG encoding failed")
    return data.tobytes()


def encode_jpeg(rgb: np.ndarray, quality: int = 95) -> bytes:
    """The one JPEG encoder: baseline, 4:4:4 chroma (pure white stays exactly 255 and colours do not
    smear at edges), labelled sRGB (the sRGB profile embedded, as shops ask)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(
        buffer, format="JPEG", quality=quality, subsampling=0, icc_profile=srgb_profile().tobytes()
    )
    return buffer.getvalue()


def to_uint8(mask: np.ndarray) -> np.ndarray:
    """Float 0..1 to uint8 0..255, rounded and saturated (OpenCV: 10x faster than NumPy's round-clip-cast)."""
    return cv2.convertScaleAbs(np.asarray(mask, np.float32), alpha=255.0)


def write_new_file(path: Path, data: bytes, overwrite: bool, protected: frozenset[Path] = frozenset()) -> None:
    """Write ``data`` to ``path`` atomically; never over an input file, and over an existing file only with ``overwrite``.

    The temporary file plus rename means an interrupted run never leaves half a PNG behind.
    """
    target = path.resolve()
    if target in protected:
        raise OutputExistsError(f"{path}: refusing to write over an input file; choose another --out folder")
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists; use --overwrite to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".bgapp-", suffix=target.suffix)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
        os.chmod(temp_name, 0o644)  # mkstemp makes it private (0600); a result is an ordinary file
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
