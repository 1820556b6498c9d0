"""The product-scene generator: exact masks, shadows outside the mask, reproducible seeds."""

from __future__ import annotations

import numpy as np
import pytest

from bgapp.cli import main
from bgapp.lab import datasets as dataset
from bgapp.lab import scenes


@pytest.fixture(scope="module")
def pets() -> list[scenes.Source]:
    """Two tiny 'pets' (a disc with a border ring) on textured photos, standing in for Pet photos."""
    sources = []
    rng = np.random.default_rng(0)
    for index in range(2):
        rgb = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
        mask = np.zeros((120, 160), np.float32)
        yy, xx = np.mgrid[:120, :160]
        mask[(yy - 60) ** 2 + (xx - 80 + 10 * index) ** 2 < 35**2] = 1
        sources.append(scenes.Source(rgb, dataset.trimap_from_mask(mask, border=2)))
    return sources


def test_same_seed_same_scene_other_seed_other_scene(pets):
    a = scenes.make_scene(5, (128, 96), pets)
    b = scenes.make_scene(5, (128, 96), pets)
    c = scenes.make_scene(6, (128, 96), pets)
    np.testing.assert_array_equal(a.rgb, b.rgb)
    np.testing.assert_array_equal(a.alpha, b.alpha)
    assert not np.array_equal(a.rgb, c.rgb)


def test_masks_are_exact_coverage_and_shadows_stay_outside(pets):
    seen_shadow = False
    for seed in range(12):
        scene = scenes.make_scene(seed, (128, 96), pets)
        assert scene.rgb.shape == (96, 128, 3) and scene.alpha.shape == (96, 128)
        assert 0.0 <= scene.alpha.min() and scene.alpha.max() <= 1.0 and scene.alpha.max() > 0.9
        # A shadow only ever darkens background: where the product fully covers, there is no shadow,
        # and the trimap written for training marks every shadowed background pixel as background.
        full = scene.alpha > 0.999
        assert (scene.shadow[full] < 1e-3).all()
        trimap = dataset.trimap_from_mask(scene.alpha, border=2)
        dark = (scene.shadow > 0.05) & (scene.alpha == 0)
        if dark.any():
            seen_shadow = True
            far = dark & (dataset.trimap_from_mask(scene.alpha, border=3) == dataset.BACKGROUND)
            assert (trimap[far] == dataset.BACKGROUND).all()
    assert seen_shadow


def test_rendered_product_mask_matches_its_pixels():
    """Without pets and with the camera effects aside, product pixels are where alpha says."""
    scene = scenes.make_scene(3, (160, 120), None)
    inside = scene.alpha > 0.99
    outside = scene.alpha < 0.01
    assert inside.sum() > 200 and outside.sum() > 200
    # the foreground differs from the background it hides: inside and outside colours are not one population
    assert np.abs(scene.rgb[inside].mean(0) - scene.rgb[outside].mean(0)).max() > 5 or scene.meta["objects"] > 1


def test_make_scenes_command_writes_the_training_layout(tmp_path):
    out = tmp_path / "scenes"
    assert main(["make-scenes", "--out", str(out), "--count", "3", "--seed", "1", "--size", "96x64"]) == 0
    names = dataset.read_split(out, "trainval")
    assert len(names) == 3
    rgb, trimap = dataset.load_example(out, names[0])
    assert rgb.shape == (64, 96, 3) and set(np.unique(trimap)) <= {1, 2, 3}
    assert main(["make-scenes", "--out", str(out), "--count", "3", "--seed", "1", "--size", "96x64"]) == 2
    assert (
        main(["make-scenes", "--out", str(out), "--count", "2", "--seed", "2", "--split", "test", "--size", "96x64"])
        == 0
    )
    assert set(dataset.read_split(out, "test")).isdisjoint(names)
    assert main(["make-scenes", "--out", str(out), "--count", "1", "--seed", "1", "--size", "big"]) == 2
