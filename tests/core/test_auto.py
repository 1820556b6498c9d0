"""``auto``, the default method: which network it builds on, its steps (second look, two networks, the
plain backdrop, doubts), and that every front end says what ran. No network that is not ours is needed:
a stand-in network of a higher rank plays u2net's part."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from bgapp.core import auto as steps
from bgapp.core.images import LoadedImage
from bgapp.core.methods import Method, all_methods
from bgapp.core.methods import auto as auto_method
from bgapp.core.params import ParamValue
from bgapp.core.pipeline import prepare


def _stand_in(rank: int = 30, calls: list | None = None, answer: float | None = None) -> Method:
    """A network-like method: the darker-than-average pixels are product (a product photo on a light backdrop)."""

    def segment(rgb: np.ndarray, params: Mapping[str, ParamValue]) -> np.ndarray:
        if calls is not None:
            calls.append(rgb.shape)
        if answer is not None:
            return np.full(rgb.shape[:2], answer, np.float32)
        grey = rgb.astype(np.float32).mean(axis=2)
        return (grey < grey.mean() - 5).astype(np.float32)

    return Method(name="stand-in", summary="a stand-in network", params=(), segment=segment, family="deep", rank=rank)


@pytest.fixture()
def with_stand_in(monkeypatch: pytest.MonkeyPatch):
    """The registry as auto sees it, with a stand-in network ranked above everything installed."""
    calls: list = []
    registry = {**all_methods(), "stand-in": _stand_in(calls=calls)}
    monkeypatch.setattr(auto_method, "all_methods", lambda: registry)
    auto_method._KEPT.key = None
    yield calls
    auto_method._KEPT.key = None


def test_plan_builds_on_the_strongest_network_with_ours_beside_it(with_stand_in):
    base, ours = auto_method.plan("best")
    assert base.name == "stand-in" and ours is not None and ours.name == "unet-product"
    base, ours = auto_method.plan("shipped")  # offline: only what ships with bgapp
    assert base.name == "unet-product" and ours is None


def test_plan_without_the_stand_in_is_the_shipped_network():
    base, ours = auto_method.plan("best")  # the tests see an empty cache: u2net is not fetched
    assert base.name == "unet-product" and ours is None


def test_auto_through_the_pipeline_says_what_ran(with_stand_in, product_photo):
    image = LoadedImage(rgb=product_photo.rgb, alpha=None, name="p", mode="RGB")
    result = prepare(None, {"backdrop": False}).run(image)  # no method named: the default, auto
    assert result.ran == "auto (stand-in + unet-product)"  # beside a stronger network: no second look
    offline = prepare("auto", {"networks": "shipped"}).run(image)
    assert offline.ran == "auto (unet-product + second look)"
    assert result.alpha.shape == product_photo.rgb.shape[:2] and 0.01 < (result.alpha >= 0.5).mean() < 0.9


def test_a_cut_off_move_runs_no_network_again(with_stand_in, product_photo):
    method = all_methods()["auto"]
    method.run(product_photo.rgb, {"threshold": 0.5})
    runs = len(with_stand_in)
    looser = method.run(product_photo.rgb, {"threshold": 0.3})
    tighter = method.run(product_photo.rgb, {"threshold": 0.7})
    assert len(with_stand_in) == runs  # the combined answer was kept
    assert looser.sum() >= tighter.sum()


def test_second_look_box_is_a_square_round_the_product_inside_the_photo():
    found = np.zeros((200, 300), bool)
    found[80:120, 140:160] = True  # 40 tall, 20 wide
    x0, y0, x1, y1 = steps.second_look_box(found, 0.2)
    assert (x1 - x0) == (y1 - y0) == 56  # the longer side, 40, plus 20 % on each side
    assert x0 <= 140 and x1 >= 160 and y0 <= 80 and y1 >= 120
    corner = np.zeros((200, 300), bool)
    corner[0:30, 270:300] = True  # against two edges: shifted inside, never cut
    x0, y0, x1, y1 = steps.second_look_box(corner, 0.2)
    assert x1 == 300 and y0 == 0 and x1 - x0 == y1 - y0 == 42
    assert steps.second_look_box(np.zeros((50, 50), bool), 0.2) is None  # nothing found
    assert steps.second_look_box(np.ones((50, 50), bool), 0.2) is None  # the whole photo: nothing to gain


def test_merge_second_look_averages_inside_the_crop_only():
    full = np.full((10, 10), 0.2, np.float32)
    crop = np.ones((4, 4), np.float32)
    merged = steps.merge_second_look(full, crop, (2, 3, 6, 7), weight=0.75)
    assert np.allclose(merged[3:7, 2:6], 0.25 * 0.2 + 0.75)
    assert np.allclose(np.delete(merged.ravel(), [r * 10 + c for r in range(3, 7) for c in range(2, 6)]), 0.2)
    assert np.allclose(full, 0.2)  # the input is not changed


def _studio(height: int = 240, width: int = 320) -> np.ndarray:
    """A white sweep with a gentle light fall-off: what a studio shot's border looks like."""
    ramp = np.linspace(250, 228, height, dtype=np.float32)[:, None, None]
    return np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8).copy()


def test_a_plain_backdrop_is_found_and_a_busy_one_is_not():
    photo = _studio()
    photo[60:180, 100:220] = (40, 60, 160)  # a product in the middle
    model = steps.fit_backdrop(photo)
    assert model is not None and model.spread < 2.0
    busy = (np.random.default_rng(3).random((240, 320, 3)) * 255).astype(np.uint8)
    assert steps.fit_backdrop(busy) is None


def test_the_backdrop_keeps_a_dropped_strap_but_not_a_shadow_or_what_the_networks_left():
    photo = _studio()
    photo[40:120, 130:190] = (30, 30, 35)  # a watch's face ...
    photo[120:200, 145:175] = (20, 20, 20)  # ... and its strap below, which the networks half-saw
    photo[205:230, 120:200] = (photo[205:230, 120:200] * 0.7).astype(np.uint8)  # a soft shadow under it
    photo[20:60, 10:40] = (180, 40, 40)  # a red thing in a corner the networks rightly left out
    alpha = np.zeros((240, 320), np.float32)
    alpha[40:120, 130:190] = 0.95
    alpha[120:200, 145:175] = 0.25
    alpha[20:60, 10:40] = 0.01
    model = steps.fit_backdrop(photo)
    added = steps.half_seen_parts(alpha, steps.backdrop_distance(photo, model))
    assert added[130:195, 150:170].mean() > 0.9  # the strap
    assert not added[208:228, 125:195].any()  # the shadow is the backdrop's colour, darker
    assert not added[20:60, 10:40].any()  # not half-seen
    assert not added[40:120, 130:190].any()  # already product


def test_a_flat_lay_item_on_its_own_is_kept_when_half_seen():
    photo = _studio()
    photo[50:110, 40:120] = (120, 80, 40)  # the item the networks found
    photo[130:200, 200:290] = (60, 40, 30)  # a bag they half-saw, clear of the border
    alpha = np.zeros((240, 320), np.float32)
    alpha[50:110, 40:120] = 1.0
    alpha[130:200, 200:290] = 0.2
    added = steps.half_seen_parts(alpha, steps.backdrop_distance(photo, steps.fit_backdrop(photo)))
    assert added[135:195, 205:285].all()


def test_disagreeing_looks_say_check(monkeypatch: pytest.MonkeyPatch, product_photo):
    empty = _stand_in(answer=0.0)  # a strong network that sees nothing where ours sees the product
    ours = all_methods()["unet-product"]
    combined = steps.combine(product_photo.rgb, empty, ours, auto_method.answer_of, backdrop=False)
    assert any("disagree" in doubt for doubt in combined.doubts)
    agreeing = steps.combine(product_photo.rgb, ours, None, auto_method.answer_of, backdrop=False)
    assert not any("disagree" in doubt for doubt in agreeing.doubts)


def test_without_any_network_auto_is_grabcut(monkeypatch: pytest.MonkeyPatch, product_photo):
    classical = {n: m for n, m in all_methods().items() if m.rank == 0}
    monkeypatch.setattr(auto_method, "all_methods", lambda: classical)
    auto_method._KEPT.key = None
    method = all_methods()["auto"]
    mask = method.run(product_photo.rgb)
    assert method.ran(product_photo.rgb).startswith("auto (grabcut")
    assert mask.mean() > 0.02
    auto_method._KEPT.key = None


def test_the_backdrop_step_is_off_by_default_but_what_it_would_add_says_check():
    photo = _studio()
    photo[40:120, 130:190] = (30, 30, 35)
    photo[120:200, 145:175] = (20, 20, 20)
    answer = np.zeros((240, 320), np.float32)
    answer[40:120, 130:190] = 0.95
    answer[120:200, 145:175] = 0.25  # the strap, half-seen
    network = _stand_in()
    off = steps.combine(photo, network, None, lambda m, rgb: answer, second_look=False, backdrop=False)
    assert (off.alpha[130:195, 150:170] < 0.5).all() and "plain backdrop" not in off.ran
    assert any("left out" in doubt and "Plain backdrop" in doubt for doubt in off.doubts)
    on = steps.combine(photo, network, None, lambda m, rgb: answer, second_look=False, backdrop=True)
    assert (on.alpha[130:195, 150:170] == 1.0).all() and on.ran.endswith("plain backdrop")
    assert all(param.default is False for param in all_methods()["auto"].params if param.name == "backdrop")


def test_check_figures_count_flags_and_what_they_catch():
    from bgapp.lab.evaluate import check_figures

    rows = [
        {"iou": 0.95, "flags": {"mask": False, "with_doubts": False}},
        {"iou": 0.50, "flags": {"mask": True, "with_doubts": True}},
        {"iou": 0.70, "flags": {"mask": False, "with_doubts": True}},
        {"iou": 0.90, "flags": {"mask": True, "with_doubts": True}},
    ]
    figures = check_figures(rows)
    assert figures["images_below"] == 2
    assert figures["mask"] == {"flagged": 2, "flagged_share": 0.5, "caught": 1, "caught_share": 0.5}
    assert figures["with_doubts"] == {"flagged": 3, "flagged_share": 0.75, "caught": 2, "caught_share": 1.0}
