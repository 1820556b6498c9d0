"""Shared fixtures: small synthetic product photos with exact masks (no files from ../shared needed)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from bgapp.lab import synth

PET_DATA = Path(os.environ.get("BGAPP_PET_DATA", Path(__file__).resolve().parents[1].parent
                               / "shared" / "data" / "oxford-iiit-pet-sample"))


@pytest.fixture(scope="session")
def studio_scenes() -> list[synth.Scene]:
    """Eight varied studio shots (every product shape, several backdrops, shadows)."""
    return synth.studio_set(seed=2024, count=8, size=(480, 360))


@pytest.fixture(scope="session")
def pet_data() -> Path:
    if not (PET_DATA / "annotations" / "test.txt").exists():
        pytest.skip("Oxford-IIIT Pet data not found (set BGAPP_PET_DATA)")
    return PET_DATA


@pytest.fixture()
def product_photo() -> synth.Scene:
    return synth.render_scene(11, (320, 240), "grey", "bottle")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a ``server`` fixture starts a real server: marked ``server`` (``-m "not server"``
    leaves them out); the tests mirror the package (tests/core, tests/app, ...)."""
    for item in items:
        if "server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.server)
