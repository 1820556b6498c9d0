"""Small datasets that tests in several folders write (importable as ``_data``: pytest puts tests/,
where conftest.py is, on the path). Tiny synthetic files only, never ../shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bgapp.lab import synth


def _scene(index: int, size=(80, 60)) -> tuple[np.ndarray, np.ndarray]:
    scene = synth.render_scene(
        300 + index,
        size,
        synth.BACKGROUNDS[index % len(synth.BACKGROUNDS)],
        synth.PRODUCTS[index % len(synth.PRODUCTS)],
    )
    return scene.rgb, (scene.mask * 255).astype(np.uint8)


def write_duts(root: Path, train: int = 5, test: int = 3) -> Path:
    """A DUTS-layout folder with soft-edged masks; names.txt lists one name that has no files."""
    for sub, count, offset in (("DUTS-TR", train, 0), ("DUTS-TE", test, 50)):
        (root / sub / f"{sub}-Image").mkdir(parents=True)
        (root / sub / f"{sub}-Mask").mkdir(parents=True)
        names = []
        for i in range(count):
            rgb, mask = _scene(offset + i)
            name = f"{sub.lower()}_{i:03d}"
            Image.fromarray(rgb).save(root / sub / f"{sub}-Image" / f"{name}.jpg", quality=95)
            Image.fromarray(mask).save(root / sub / f"{sub}-Mask" / f"{name}.png")
            names.append(name)
        (root / sub / "names.txt").write_text("\n".join(names + [f"{sub.lower()}_gone"]) + "\n")
    return root
