"""Render the studio's six sample photos and their exact masks into bgapp/samples/ (run when the
renderer changes; the files are committed, so the studio and its tests never import the lab).

    python scripts/make_samples.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bgapp.lab import synth

OUT = Path(__file__).resolve().parents[1] / "bgapp" / "samples"
SAMPLES = (  # (seed, background, product, pale): exact masks known because we draw them
    (101, "gradient", "bottle", False),
    (102, "wood", "mug", False),
    (103, "white", "shoe", False),
    (104, "grey", "ring", False),
    (105, "paper", "box", False),
    (106, "white", "jar", True),
)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    index = []
    for seed, background, product, pale in SAMPLES:
        scene = synth.render_scene(seed, (1200, 900), background, product, pale=pale)
        key = f"sample-{seed}"
        Image.fromarray(scene.rgb).save(OUT / f"{key}.jpg", quality=95, subsampling=0)
        Image.fromarray(np.round(scene.mask * 255).astype(np.uint8)).save(OUT / f"{key}-mask.png", optimize=True)
        index.append({"key": key, "name": f"sample: {'pale ' if pale else ''}{product} on {background}"})
        print(f"wrote {key}: {product} on {background}", flush=True)
    (OUT / "samples.json").write_text(json.dumps(index, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
