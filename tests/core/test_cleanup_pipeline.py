import numpy as np
import pytest

from bgapp.core.cleanup import clean_mask, fill_holes, keep_largest
from bgapp.core.errors import ParamError
from bgapp.core.images import LoadedImage
from bgapp.core.pipeline import STEP_PARAMS, cut_out, resolve_settings
from bgapp.lab.metrics import binary_scores, trimap_accuracy

OFF = {"open_size": 1, "close_size": 1, "min_area": 0.0, "fill_holes": False, "keep_largest": False}


def ring_mask() -> np.ndarray:
    yy, xx = np.mgrid[0:100, 0:100]
    radius = np.hypot(yy - 50, xx - 50)
    return ((radius < 35) & (radius > 20)).astype(np.float32)


def test_all_off_changes_nothing():
    mask = ring_mask()
    assert np.array_equal(clean_mask(mask, OFF), mask)


def test_holes_stay_holes_by_default_and_fill_on_request():
    mask = ring_mask()
    defaults = {p.name: p.default for p in STEP_PARAMS}
    kept = clean_mask(mask, defaults)
    assert kept[50, 50] == 0  # the ring's hole is still background
    assert fill_holes(mask)[50, 50] == 1


def test_specks_and_pockets_are_removed():
    mask = np.zeros((200, 200), np.float32)
    mask[50:150, 50:150] = 1
    mask[10:12, 10:12] = 1  # a speck in the background
    mask[100:102, 100:102] = 0  # a pinhole in the product
    cleaned = clean_mask(mask, {**OFF, "min_area": 0.05})
    assert cleaned[11, 11] == 0 and cleaned[101, 101] == 1 and cleaned[60, 60] == 1


def test_open_and_close():
    mask = np.zeros((100, 100), np.float32)
    mask[20:80, 20:80] = 1
    mask[50, 5] = 1  # a lone pixel
    mask[20:80, 49] = 0  # a one-pixel crack
    cleaned = clean_mask(mask, {**OFF, "open_size": 3, "close_size": 5})
    assert cleaned[50, 5] == 0 and cleaned[50, 49] == 1


def test_keep_largest():
    mask = np.zeros((100, 100), np.float32)
    mask[10:20, 10:20] = 1
    mask[40:90, 40:90] = 1
    kept = keep_largest(mask)
    assert kept[15, 15] == 0 and kept[60, 60] == 1


def test_settings_split_between_method_and_steps():
    settings = resolve_settings("kmeans", {"k": "4", "close_size": "3"})
    assert settings.method_params["k"] == 4 and settings.step_params["close_size"] == 3
    assert resolve_settings("adaptive").step_params["fill_holes"] is True  # the method's own default
    with pytest.raises(ParamError, match="no parameter 'q'"):
        resolve_settings("kmeans", {"q": 1})


def test_cut_out_respects_input_alpha_and_size(product_photo):
    alpha = np.ones(product_photo.rgb.shape[:2], np.float32)
    alpha[:, : alpha.shape[1] // 2] = 0  # left half transparent in the input
    image = LoadedImage(product_photo.rgb, alpha, "x", "RGBA")
    result = cut_out(image, resolve_settings("threshold", {"work_size": 256}))
    assert result.alpha.shape == product_photo.rgb.shape[:2]
    assert result.alpha[:, : alpha.shape[1] // 2].max() == 0
    assert result.mask.shape[1] == 256  # the working copy is what the method saw


def test_metrics_on_hand_made_masks():
    truth = np.zeros((10, 10))
    truth[:5] = 1
    pred = np.zeros((10, 10))
    pred[:5, :5] = 1
    pred[9, 9] = 1
    scores = binary_scores(pred, truth)
    assert scores["iou"] == pytest.approx(25 / 51)
    assert scores["f1"] == pytest.approx(50 / 76)
    assert scores["accuracy"] == pytest.approx(74 / 100)
    assert scores["mae"] == pytest.approx(26 / 100)
    assert binary_scores(np.zeros((4, 4)), np.zeros((4, 4)))["iou"] == 1.0
    trimap = np.array([[1, 2], [3, 2]])
    assert trimap_accuracy(np.array([[1, 2], [1, 1]]), trimap) == 0.5
