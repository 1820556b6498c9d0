"""The loader: every format and colour mode a seller's files come in, and every way a file can be bad."""

import io

import numpy as np
import pytest
from PIL import Image

from bgapp.core.errors import ImageLoadError, OutputExistsError
from bgapp.core.images import load_image, write_new_file


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gradient_rgb(width: int = 64, height: int = 48) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, 1)
    return np.dstack([x, y, np.full_like(x, 128)])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "BMP"])
def test_common_formats_load_as_rgb(fmt):
    rgb = gradient_rgb()
    loaded = load_image(encode(Image.fromarray(rgb), fmt))
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == (48, 64, 3)
    tolerance = 12 if fmt in ("JPEG", "WEBP") else 0
    assert np.abs(loaded.rgb.astype(int) - rgb).mean() <= tolerance
    assert loaded.alpha is None


def test_exif_orientation_is_applied():
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :10] = 255  # a white band on the left of a landscape image
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    loaded = load_image(encode(Image.fromarray(rgb), "JPEG", exif=exif.tobytes()))
    assert loaded.rgb.shape[:2] == (40, 20)  # displayed as portrait
    assert loaded.rgb[:10].mean() > 200 and loaded.rgb[-10:].mean() < 50  # band now on top


def test_grayscale_becomes_three_equal_channels():
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    loaded = load_image(encode(Image.fromarray(gray, "L"), "PNG"))
    assert loaded.rgb.shape == (16, 16, 3)
    assert (loaded.rgb[..., 0] == gray).all() and (loaded.rgb[..., 2] == gray).all()


def test_palette_with_transparency_keeps_alpha():
    image = Image.new("P", (10, 10), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (0, 0, 5, 10))
    image.info["transparency"] = 1
    loaded = load_image(encode(image, "PNG", transparency=1))
    assert loaded.alpha is not None
    assert loaded.alpha[:, :5].max() == 0.0 and loaded.alpha[:, 5:].min() == 1.0
    assert tuple(loaded.rgb[0, 9]) == (255, 0, 0)


def test_plain_palette_image():
    image = Image.fromarray(gradient_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    loaded = load_image(encode(image, "PNG"))
    assert loaded.rgb.shape == (48, 64, 3) and loaded.alpha is None


def test_rgba_and_la_alpha_is_kept():
    rgba = np.dstack([gradient_rgb(), np.full((48, 64), 255, np.uint8)])
    rgba[:, :8, 3] = 0
    loaded = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert loaded.alpha is not None and loaded.alpha[:, :8].max() == 0 and loaded.alpha[:, 8:].min() == 1
    la = Image.merge("LA", [Image.fromarray(rgba[..., 0]), Image.fromarray(rgba[..., 3])])
    loaded = load_image(encode(la, "PNG"))
    assert loaded.rgb.shape == (48, 64, 3) and loaded.alpha[:, :8].max() == 0


def test_opaque_alpha_is_dropped():
    rgba = np.dstack([gradient_rgb(), np.full((48, 64), 255, np.uint8)])
    assert load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG")).alpha is None


def test_cmyk_jpeg_converts_to_rgb_colours():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red ink mix
    loaded = load_image(encode(cmyk, "JPEG", quality=95))
    r, g, b = loaded.rgb[8, 8].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_16_bit_grayscale_png_is_scaled_not_clipped():
    values = np.linspace(0, 65535, 64 * 48).reshape(48, 64).astype(np.uint16)
    loaded = load_image(encode(Image.fromarray(values), "PNG"))
    gray = loaded.rgb[..., 0].astype(int)
    assert gray.min() == 0 and gray.max() == 255
    assert abs(int(gray[24, 32]) - int(values[24, 32]) // 257) <= 1  # mid-grey stays mid-grey
    assert (gray == 255).mean() < 0.02  # clipping would make ~99 % of it white


def test_16_bit_tiff_is_scaled():
    values = (np.linspace(0, 1, 32 * 32).reshape(32, 32) * 65535).astype(np.uint16)
    loaded = load_image(encode(Image.fromarray(values), "TIFF"))
    assert loaded.rgb[..., 0].max() == 255 and 100 < loaded.rgb[16, 16, 0] < 160


@pytest.mark.parametrize("ext", [".png", ".tiff"])
def test_16_bit_colour_is_scaled(ext):
    import cv2

    values = (np.random.default_rng(0).random((8, 8, 3)) * 65535).astype(np.uint16)
    _ok, data = cv2.imencode(ext, values[..., ::-1])  # OpenCV writes BGR
    loaded = load_image(data.tobytes())
    assert np.abs(loaded.rgb.astype(int) - values // 257).max() <= 1


@pytest.mark.parametrize(
    "data,words",
    [
        (b"", "empty"),
        (b"this is a text file, not a photo", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image|damaged"),
    ],
)
def test_bad_bytes_are_refused_with_a_reason(data, words):
    with pytest.raises(ImageLoadError, match=words):
        load_image(data, name="upload.png")


def test_truncated_jpeg_is_refused():
    data = encode(Image.fromarray(gradient_rgb(256, 256)), "JPEG")
    with pytest.raises(ImageLoadError, match="truncated|damaged"):
        load_image(data[: len(data) // 2], name="half.jpg")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)


def test_pixel_limit_is_checked_before_decoding():
    # 20000 x 20000 PNG of one colour: 400 MP when decoded, a few hundred kB on disk
    big = encode(Image.new("L", (20000, 20000), 0), "PNG")
    with pytest.raises(ImageLoadError, match="400 MP.*over the 100 MP limit"):
        load_image(big, name="bomb.png")
    with pytest.raises(ImageLoadError, match="over the 0.001 MP limit"):
        load_image(encode(Image.fromarray(gradient_rgb()), "PNG"), max_megapixels=0.001)


def test_write_new_file_protects_inputs_and_existing_results(tmp_path):
    source = tmp_path / "photo.png"
    source.write_bytes(b"original")
    with pytest.raises(OutputExistsError, match="input"):
        write_new_file(source, b"new", overwrite=True, protected=frozenset({source.resolve()}))
    assert source.read_bytes() == b"original"
    target = tmp_path / "out" / "photo.png"
    write_new_file(target, b"one", overwrite=False)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_new_file(target, b"two", overwrite=False)
    write_new_file(target, b"three", overwrite=True)
    assert target.read_bytes() == b"three"
    assert [p.name for p in target.parent.iterdir()] == ["photo.png"]  # no temp files left
    assert target.stat().st_mode & 0o777 == 0o644  # readable like any file the user saves, not private


def matrix_profile(description: str, red: tuple, green: tuple, blue: tuple, gamma: float = 2.2) -> bytes:
    """A minimal ICC v2 RGB matrix/TRC display profile, built here so no profile file is needed."""
    import struct

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(values: tuple) -> bytes:
        return b"XYZ " + b"\0" * 4 + b"".join(s15(v) for v in values)

    text = description.encode("ascii") + b"\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + b"\0" * 4 + b"\0" * 2 + b"\0" + b"\0" * 67
    curve = b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", round(gamma * 256)) + b"\0\0"
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz((0.9642, 1.0, 0.8249))),
        (b"rXYZ", xyz(red)),
        (b"gXYZ", xyz(green)),
        (b"bXYZ", xyz(blue)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"none"
        + bytes([2, 0x10, 0, 0])
        + b"mntr"
        + b"RGB "
        + b"XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
    )
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


DISPLAY_P3 = matrix_profile(
    "Display P3 (test)", (0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841)
)


def test_photos_in_another_colour_space_are_converted_to_srgb():
    """A phone's Display P3 photo: saturated colours move into sRGB's gamut, greys stay grey."""
    pixels = np.zeros((8, 24, 3), np.uint8)
    pixels[:, :8] = (0, 200, 0)  # a P3 green, more saturated than sRGB can show
    pixels[:, 8:16] = (128, 128, 128)
    pixels[:, 16:] = (200, 120, 60)
    tagged = encode(Image.fromarray(pixels), "PNG", icc_profile=DISPLAY_P3)
    rgb = load_image(tagged, "p3.png").rgb
    green, grey, orange = rgb[4, 4].astype(int), rgb[4, 12].astype(int), rgb[4, 20].astype(int)
    assert green[0] < 10 and green[1] >= 204  # greener than the stored numbers, red clipped at 0
    assert np.ptp(grey) <= 2 and abs(grey[0] - 128) <= 3
    assert orange[0] >= 210 and orange[2] <= 45  # more saturated than the stored (200, 120, 60)
    # the same numbers untagged, or tagged sRGB, are taken as they are
    assert np.array_equal(load_image(encode(Image.fromarray(pixels), "PNG"), "plain.png").rgb, pixels)
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert np.array_equal(load_image(encode(Image.fromarray(pixels), "PNG", icc_profile=srgb), "s.png").rgb, pixels)


def test_a_broken_colour_profile_keeps_the_photo():
    pixels = gradient_rgb()
    loaded = load_image(encode(Image.fromarray(pixels), "PNG", icc_profile=b"not a profile at all"), "odd.png")
    assert np.array_equal(loaded.rgb, pixels)


def test_alpha_survives_the_colour_conversion():
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., :3] = (0, 200, 0)
    rgba[:, :5, 3] = 255
    loaded = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG", icc_profile=DISPLAY_P3), "p3a.png")
    assert loaded.alpha is not None and loaded.alpha[:, :5].min() == 1.0 and loaded.alpha[:, 5:].max() == 0.0
    assert loaded.rgb[0, 0, 1] >= 204 and loaded.rgb[0, 0, 0] < 10
