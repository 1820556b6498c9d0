"""The click network's plumbing: guide maps, the local rule, the simulated clicks it trains on."""

from __future__ import annotations

import numpy as np
import pytest

from bgapp.core.guided import GUIDE_CHANNELS, guide_maps, guided_correction, local_changes
from bgapp.core.marks import Marks, correct_mask
from bgapp.lab.clicktrain import simulated_clicks, spoil, training_guide


class TruthNetwork:
    """A stand-in click network that answers a fixed mask, whatever it is shown; it records the guides."""

    size = 64

    def __init__(self, answer: np.ndarray):
        self.answer = answer.astype(np.float32)
        self.guides: list[np.ndarray] = []

    def probabilities(self, rgb: np.ndarray, guide: np.ndarray) -> np.ndarray:
        assert guide.shape == (self.size, self.size, GUIDE_CHANNELS)
        self.guides.append(guide)
        return np.stack([self.answer, 1.0 - self.answer, np.zeros_like(self.answer)], -1)


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
    after[10:20, 10:20] = True   # near the click
    after[60:70, 60:70] = True   # far away
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
    network = TruthNetwork(answer)
    rgb = np.zeros((64, 64, 3), np.uint8)
    fixed = guided_correction(rgb, method.astype(np.float32), [(38.0, 25.0)], [], network, seed=2) > 0.5
    assert fixed[20:30, 30:45].all() and not fixed[55:60, 55:60].any()
    assert network.guides[0][25, 38, 0] == 1  # the click was drawn at its place for the network
    # the same through correct_mask, as the app and the CLI call it
    again = correct_mask(rgb, method.astype(np.float32), Marks().add("keep", (38, 25)), network=network) > 0.5
    assert (again == fixed).all()


def test_a_click_spot_ends_up_as_the_click_says_even_if_the_network_disagrees():
    mask = np.ones((64, 64), np.float32)
    network = TruthNetwork(np.ones((64, 64)))  # insists it is all product
    fixed = guided_correction(np.zeros((64, 64, 3), np.uint8), mask, [], [(32.0, 32.0)], network, seed=3)
    assert fixed[32, 32] == 0 and fixed[32, 35] == 0 and fixed[10, 10] == 1


def test_the_simulated_user_clicks_the_largest_mistake_first_and_stops_when_all_is_right():
    truth = np.zeros((100, 100), bool)
    truth[20:80, 20:80] = True
    mask = truth.copy()
    mask[20:50, 20:50] = False          # a large missed part
    mask[85:92, 85:92] = True           # a small extra blob
    rng = np.random.default_rng(0)
    keep, remove = simulated_clicks(truth, mask, rng, clicks=5)
    x, y = keep[0]
    assert 20 <= x < 50 and 20 <= y < 50  # inside the missed part
    assert len(remove) >= 1 and all(85 <= x < 92 and 85 <= y < 92 for x, y in remove[:1])
    # two mistakes, two clicks; a third only when the "already right" extra click was drawn
    assert len(keep) + len(remove) in (2, 3)


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
    state = train(TrainOptions(model=CLICK_MODEL, data=(data,), epochs=1, out=out, size=64, batch=4,
                               init="unet-product", loss="ce+iou", select="fg_iou"), progress=lambda line: None)
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
