"""The click network's plumbing: guide maps, the local rule, the simulated clicks it trains on."""

from __future__ import annotations

import numpy as np
import pytest

from bgapp.core.correction import correct_mask
from bgapp.core.guided import GUIDE_CHANNELS, guide_maps, guided_correction, local_changes
from bgapp.core.marks import Marks
from bgapp.lab.clicktrain import simulated_clicks, spoil, training_guide


class GreenNetwork:
    """A stand-in click network that answers "product" where the photo is green, whatever the clicks
    say (so it answers the same on a crop as on the whole photo); it records the guides and crops."""

    size = 64

    def __init__(self) -> None:
        self.guides: list[np.ndarray] = []
        self.shapes: list[tuple[int, ...]] = []

    def probabilities(self, rgb: np.ndarray, guide: np.ndarray) -> np.ndarray:
        assert guide.shape == (self.size, self.size, GUIDE_CHANNELS)
        self.guides.append(guide)
        self.shapes.append(rgb.shape)
        answer = (rgb[..., 1] > 127).astype(np.float32)
        return np.stack([answer, 1.0 - answer, np.zeros_like(answer)], -1)


def painted(answer: np.ndarray) -> np.ndarray:
    """A photo on which ``GreenNetwork`` answers ``answer`` (bool)."""
    rgb = np.zeros(answer.shape + (3,), np.uint8)
    rgb[..., 1] = np.where(answer, 255, 0)
    return rgb


def test_guide_maps_put_each_click_where_it_was_and_cut_the_mask():
    mask = np.zeros((100, 200), np.float32)
    mask[:, :100] = 0.7
    maps = guide_maps(50, mask, keep=[(150.0, 50.0)], remove=[(20.0, 80.0)])
    assert maps.shape == (50, 50, 3)
    assert maps[25, 37, 0] == 1 and maps[25, 37, 1] == 0  # keep at x 150/200, y 50/100 of the square
    assert maps[40, 5, 1] == 1 and maps[40, 5, 0] == 0
    assert maps[5, 30, 0] == 0 and maps[5, 30, 1] == 0  # nowhere near a click
    assert set(np.unique(maps[..., 2])) == {0.0, 1.0} and maps[10, 10, 2] == 1 and maps[10, 40, 2] == 0


def test_only_the_changed_region_near_a_click_is_taken():
    before = np.zeros((80, 80), bool)
    after = before.copy()
    after[10:20, 10:20] = True  # near the click
    after[60:70, 60:70] = True  # far away
    result = local_changes(before, after, [(15.0, 15.0)], reach=5)
    assert result[10:20, 10:20].all() and not result[60:70, 60:70].any()


def test_a_keep_click_on_a_missed_part_brings_it_back_and_nothing_far_changes():
    truth = np.zeros((64, 64), bool)
    truth[10:50, 10:30] = True
    truth[20:30, 30:45] = True  # the handle the method missed
    method = truth.copy()
    method[20:30, 30:45] = False
    answer = truth.copy()
    answer[55:60, 55:60] = True  # the network is also wrong far away: that must not be taken
    network = GreenNetwork()
    rgb = painted(answer)
    fixed = guided_correction(rgb, method.astype(np.float32), [(38.0, 25.0)], [], network, seed=2) > 0.5
    assert fixed[20:30, 30:45].all() and not fixed[55:60, 55:60].any()
    assert network.guides[0][..., 0].sum() > 0 and not network.guides[0][..., 1].any()  # one keep dot drawn
    # the same through correct_mask, as the app and the CLI call it
    again = correct_mask(rgb, method.astype(np.float32), Marks().add("keep", (38, 25)), network=network) > 0.5
    assert (again == fixed).all()


def test_the_network_looks_at_a_crop_around_a_small_product_and_the_clicks():
    from bgapp.core.guided import focus_box

    mask = np.zeros((400, 600), bool)
    mask[100:140, 200:260] = True  # a small product, 60 x 40 px
    x0, y0, x1, y1 = focus_box(mask, [(300.0, 120.0)])
    assert x0 <= 200 and x1 >= 301 and y0 <= 100 and y1 >= 140  # the product and the click are in it
    assert (x1 - x0) * (y1 - y0) < 0.2 * mask.size  # ... and not much more
    assert min(x1 - x0, y1 - y0) >= 0.25 * 600 - 1  # at least a quarter of the longer side
    assert focus_box(np.zeros((40, 40), bool), []) == (0, 0, 40, 40)
    whole = np.ones((400, 600), bool)
    assert focus_box(whole, []) == (0, 0, 600, 400)  # never outside the photo
    truth = np.zeros((400, 600), bool)
    truth[100:140, 200:270] = True
    network = GreenNetwork()
    fixed = guided_correction(painted(truth), mask.astype(np.float32), [(265.0, 120.0)], [], network, seed=2)
    assert network.shapes[0][0] < 400 and (fixed > 0.5)[100:140, 260:270].all()


def test_a_click_spot_ends_up_as_the_click_says_even_if_the_network_disagrees():
    mask = np.ones((64, 64), np.float32)
    network = GreenNetwork()  # insists it is all product
    fixed = guided_correction(painted(np.ones((64, 64), bool)), mask, [], [(32.0, 32.0)], network, seed=3)
    assert fixed[32, 32] == 0 and fixed[32, 35] == 0 and fixed[10, 10] == 1


class FixedNetwork:
    """A stand-in click network that answers one fixed mask of the whole photo, whatever it is shown."""

    size = 64

    def __init__(self, answer: np.ndarray):
        self.answer = answer.astype(np.float32)

    def probabilities(self, rgb: np.ndarray, guide: np.ndarray) -> np.ndarray:
        assert rgb.shape[:2] == self.answer.shape  # the whole photo: the tests turn the zoom-in off
        return np.stack([self.answer, 1.0 - self.answer, np.zeros_like(self.answer)], -1)


def test_of_the_network_and_grabcut_the_answer_that_does_more_about_the_click_is_kept(monkeypatch):
    from bgapp.core import guided

    monkeypatch.setattr(guided, "ZOOM_IN", False)
    mask = np.zeros((96, 96), np.float32)
    mask[10:60, 10:60] = 1  # the product
    mask[70:90, 70:90] = 1  # a second thing the method kept, which the seller removes
    clicks = Marks().add("remove", (80, 80))
    rgb = painted(mask > 0.5)
    # the network holds on to what it was shown: only the click's own spot goes; GrabCut drops the blob
    fixed = correct_mask(rgb, mask, clicks, network=FixedNetwork(mask > 0.5)) > 0.5
    assert not fixed[70:90, 70:90].any() and fixed[10:60, 10:60].all()
    # where GrabCut does less (here: a stand-in that only sets the click's own spot), the network's answer is kept
    import bgapp.core.correction as marks

    def timid(rgb, result, clicks, zoom, iterations):
        out = result.copy()
        out[33:38, 48:53] = 1
        return out

    monkeypatch.setattr(marks, "_grabcut_clicks", timid)
    truth = np.zeros((96, 96), bool)
    truth[10:60, 10:60] = True
    missed = truth.astype(np.float32)
    missed[10:60, 40:60] = 0  # the method lost the product's right part
    fixed = correct_mask(rgb, missed, Marks().add("keep", (50, 35)), network=FixedNetwork(truth)) > 0.5
    assert (fixed == truth).all()


def test_the_simulated_user_clicks_the_largest_mistake_first_and_stops_when_all_is_right():
    truth = np.zeros((100, 100), bool)
    truth[20:80, 20:80] = True
    mask = truth.copy()
    mask[20:50, 20:50] = False  # a large missed part
    mask[85:92, 85:92] = True  # a small extra blob
    rng = np.random.default_rng(0)
    keep, remove = simulated_clicks(truth, mask, rng, clicks=5)
    x, y = keep[0]
    assert 20 <= x < 50 and 20 <= y < 50  # inside the missed part
    assert len(remove) >= 1 and all(85 <= x < 92 and 85 <= y < 92 for x, y in remove[:1])
    # two mistakes, two clicks; a third only when the "already right" extra click was drawn
    assert len(keep) + len(remove) in (2, 3)


def test_iterative_training_shows_the_mask_with_the_earlier_clicks_already_applied():
    from bgapp.lab.clicktrain import _clicks_and_mask

    truth = np.zeros((100, 100), bool)
    truth[20:80, 20:80] = True
    mask = truth.copy()
    mask[20:50, 20:50] = False  # first click: keep, here
    mask[85:95, 85:95] = True  # second click: remove, here
    shown_masks = []
    for seed in range(12):
        keep, remove, shown = _clicks_and_mask(truth, mask, np.random.default_rng(seed), 2, iterative=True)
        assert len(keep) >= 1 and len(remove) >= 1  # both clicks are shown to the network
        shown_masks.append(shown)
    for shown in shown_masks:
        assert shown[30:40, 30:40].all()  # the first click's part already fixed...
        assert shown[88:92, 88:92].all()  # ... the second one's still to do
    _, _, plain = _clicks_and_mask(truth, mask, np.random.default_rng(0), 2, iterative=False)
    assert (plain == mask).all()


def test_spoilt_masks_differ_and_training_guides_have_the_three_maps():
    truth = np.zeros((64, 64), bool)
    truth[16:48, 16:48] = True
    rng = np.random.default_rng(1)
    spoilt = [spoil(truth, rng) for _ in range(60)]
    assert all((mask != truth).any() for mask in spoilt)
    assert any(not mask.any() for mask in spoilt)  # nothing found
    assert any(mask.any() and not (mask & truth).any() for mask in spoilt)  # the wrong thing found
    label = np.where(truth, 0, 1).astype(np.uint8)[..., None]
    guides = [training_guide(label, truth[..., None].astype(np.float32), rng) for _ in range(20)]
    assert all(g.shape == (64, 64, 3) and g.dtype == np.float32 for g in guides)
    assert any(g[..., :2].any() for g in guides)  # some carry clicks...
    assert any(not g[..., :2].any() for g in guides)  # ... and some none (a network must also work unclicked)


def test_the_click_network_is_no_method_and_is_off_when_missing_or_turned_off(tmp_path, monkeypatch):
    from bgapp.core.methods import all_methods
    from bgapp.core.models import CLICK_MODEL
    from bgapp.core.pipeline import CLICKS_ENV, click_network

    assert CLICK_MODEL not in all_methods()
    monkeypatch.setenv("BGAPP_WEIGHTS", str(tmp_path))
    assert click_network() is None  # not installed: clicks go through GrabCut
    monkeypatch.setenv(CLICKS_ENV, "grabcut")
    assert click_network() is None


@pytest.mark.slow
def test_a_click_network_trains_exports_and_fixes_a_mask(tmp_path, monkeypatch):
    """One epoch on a few generated scenes from the shipped unet-product, then a keep click through
    the real ONNX file: the whole path a seller's click takes when the click network is installed."""
    pytest.importorskip("tensorflow")
    import shutil

    from bgapp.core.models import CLICK_MODEL, model_files
    from bgapp.core.pipeline import click_network
    from bgapp.lab.scenes import write_scenes
    from bgapp.lab.train import TrainOptions, train

    data = tmp_path / "scenes"
    write_scenes(data, "trainval", count=12, seed=4, size=(128, 96), sources=None)
    out = tmp_path / "weights"
    state = train(
        TrainOptions(
            model=CLICK_MODEL,
            data=(data,),
            epochs=1,
            out=out,
            size=64,
            batch=4,
            init="unet-product",
            loss="ce+iou",
            select="fg_iou",
        ),
        progress=lambda line: None,
    )
    assert state["best"]["epoch"] == 1
    for name in ("unet-product",):
        for path in model_files(name).values():
            if path.exists():
                shutil.copy(path, out / path.name)
    monkeypatch.setenv("BGAPP_WEIGHTS", str(out))
    network = click_network()
    assert network is not None and network.size == 64
    rgb = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    mask = np.zeros((96, 128), np.float32)
    fixed = correct_mask(rgb, mask, Marks().add("keep", (64, 48)), network=network)
    assert fixed.shape == mask.shape and fixed[48, 64] == 1.0


def test_spoils_along_edges_follow_the_photo_colour_regions():
    from bgapp.lab.clicktrain import spoil_along_edges

    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :] = (30, 120, 200)  # sky
    image[40:, :] = (90, 160, 60)  # grass
    image[20:44, 20:40] = (220, 40, 40)  # the red product, standing on the grass
    truth = np.zeros((64, 64), bool)
    truth[20:44, 20:40] = True
    sky, grass = np.zeros_like(truth), np.zeros_like(truth)
    sky[:40] = True
    grass[40:] = True
    changes = []
    for seed in range(30):
        spoilt = spoil_along_edges(truth, truth, image, np.random.default_rng(seed))
        if spoilt is None:
            continue
        change = spoilt != truth
        assert change.any()
        # what changed (or, when the wrong thing was found, what was found) is one colour region of
        # the photo: product, sky or grass, give or take its edge
        shown = change if (spoilt & truth).any() else spoilt
        assert any((shown & ~region).sum() <= 2 * 64 for region in (truth, sky & ~truth, grass & ~truth))
        changes.append(change)
    assert len(changes) >= 20
