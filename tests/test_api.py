"""The library call ``bgapp.cut``: every kind of photo a caller holds, the same result as ``cut``."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import bgapp
from bgapp.cli import main
from bgapp.lab import synth


@pytest.fixture(scope="module")
def scene() -> synth.Scene:
    return synth.render_scene(21, (200, 150), "grey", "jar")


def png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.getvalue()


def test_path_bytes_pil_and_array_give_the_same_cut_out(scene, tmp_path):
    path = tmp_path / "jar.png"
    path.write_bytes(png(scene.rgb))
    results = [
        bgapp.cut(photo, method="kmeans")
        for photo in (path, str(path), png(scene.rgb), Image.fromarray(scene.rgb), scene.rgb)
    ]
    for result in results:
        assert result.kind == "transparent" and result.suffix == ".png" and result.pixels.shape == (150, 200, 4)
        np.testing.assert_array_equal(result.pixels, results[0].pixels)
    assert results[0].alpha[75, 100] > 0.9 and results[0].alpha[2, 2] < 0.1


def test_the_library_and_the_cli_write_the_same_bytes(scene, tmp_path):
    path = tmp_path / "jar.png"
    path.write_bytes(png(scene.rgb))
    assert main(["cut", str(path), "--method", "grabcut", "--export", "white", "--out", str(tmp_path / "o")]) == 0
    result = bgapp.cut(path, method="grabcut", export="white")
    assert (tmp_path / "o" / result.file_name("jar")).read_bytes() == result.data


def test_exports_framing_mask_and_params(scene, tmp_path):
    amazon = bgapp.cut(scene.rgb, method="threshold", export="amazon")
    assert (
        amazon.suffix == ".jpg" and amazon.pixels.shape == (2000, 2000, 3) and amazon.pixels[0, 0].tolist() == [255] * 3
    )
    framed = bgapp.cut(
        scene.rgb, method="threshold", export="custom", framing={"crop": True, "margin": 0, "margin_unit": "px"}
    )
    assert framed.pixels.shape[0] < 150 and framed.pixels.shape[1] < 200  # cropped to the product
    mask = bgapp.cut(scene.rgb, method="kmeans", mask=True, k=3)
    assert mask.kind == "mask" and mask.pixels.dtype == np.uint8 and mask.pixels.ndim == 2
    assert set(np.unique(mask.pixels)) >= {0, 255}
    saved = mask.save(tmp_path / "m.png")
    assert Image.open(saved).mode == "L"
    with pytest.raises(bgapp.BgappError, match="already exists"):
        mask.save(tmp_path / "m.png")


def test_grey_rgba_and_16_bit_arrays_are_photos_too(scene):
    grey = bgapp.cut(scene.rgb.mean(axis=2).astype(np.uint8), method="threshold")
    assert grey.pixels.shape == (150, 200, 4)
    rgba = np.dstack([scene.rgb, np.full(scene.rgb.shape[:2], 255, np.uint8)])
    rgba[:, :20, 3] = 0  # transparent in the input: transparent in the result
    assert bgapp.cut(rgba, method="threshold").pixels[:, :20, 3].max() == 0
    deep = bgapp.cut(scene.rgb.astype(np.uint16) * 257, method="threshold")
    np.testing.assert_array_equal(deep.pixels, bgapp.cut(scene.rgb, method="threshold").pixels)


@pytest.mark.parametrize(
    "photo,words",
    [
        (np.zeros((10, 10, 5), np.uint8), "an image array is"),
        (np.zeros((10, 10, 3), np.int64), "are not images"),
        (b"not a photo", "not an image file"),
    ],
)
def test_bad_photos_and_settings_are_one_line_errors(photo, words):
    with pytest.raises(bgapp.BgappError, match=words):
        bgapp.cut(photo, method="threshold")


def test_bad_setting_names_the_allowed_ones(scene):
    with pytest.raises(bgapp.ParamError, match="no parameter 'nonsense'"):
        bgapp.cut(scene.rgb, method="threshold", nonsense=3)
    with pytest.raises(bgapp.BgappError, match="unknown export"):
        bgapp.cut(scene.rgb, method="threshold", export="poster")
