"""Choose the plain-backdrop step's constants (``core/auto.py``) on rendered studio shots drawn with
other seeds than the benchmark's, and look at what it does to the DUTS-TR hold-out's plain-border photos.

    python scripts/auto_backdrop.py --cache /tmp/auto-cache/val

Rows: for each (half-seen, product distance, shadow darkening), the mean IoU of ``auto``'s answer with
and without the step on three rendered sets (studio shots seed 7, pale on white seed 79, strong shadows
seed 92, with the share of shadow kept) and on the hold-out's photos whose border is plain. The
networks run once per photo; figures only.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=None, help="auto_cache.py's folder of the DUTS-TR hold-out")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "duts")
    parser.add_argument("--networks", choices=("best", "shipped"), default="best")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="a file to keep the networks' answers in (and read them back from on a second run)",
    )
    args = parser.parse_args()

    from bgapp.core import auto as steps
    from bgapp.core.methods import auto as method
    from bgapp.lab import bench, synth

    base, ours = method.plan(args.networks)
    if args.keep is not None and args.keep.exists():
        import pickle

        photos = pickle.loads(args.keep.read_bytes())
        return _table(photos)
    sets = {
        "studio": synth.studio_set(seed=7, count=24),
        "pale": bench.pale_on_white(seed=79),
        "shadows": bench.strong_shadows(seed=92),
    }
    photos = []  # (set, rgb, truth, shadow mask or None, alpha before the backdrop step)
    for name, scenes in sets.items():
        for scene in scenes:
            combined = steps.combine(scene.rgb, base, ours, method.answer_of, backdrop=False)
            shadow = (scene.shadow > 0.2) & (scene.alpha < 0.01)
            photos.append((name, scene.rgb, scene.mask >= 0.5, shadow, combined.alpha))
    if args.cache is not None:
        from bgapp.lab import datasets

        for path in sorted(args.cache.glob("*.npz")):
            rgb, _, truth = datasets.load_truth(args.data, path.stem)
            if steps.fit_backdrop(rgb) is None:
                continue
            combined = steps.combine(rgb, base, ours, method.answer_of, backdrop=False)
            photos.append(("duts-plain", rgb, truth >= 0.5, None, combined.alpha))
    if args.keep is not None:
        import pickle

        args.keep.write_bytes(pickle.dumps(photos))
    print(f"{base.name if base else None} + {ours.name if ours else None}")
    return _table(photos)


def _table(photos: list) -> int:
    from bgapp.core import auto as steps

    print(
        "photos per set: "
        + ", ".join(f"{s} {sum(p[0] == s for p in photos)}" for s in dict.fromkeys(p[0] for p in photos))
    )
    models = [steps.fit_backdrop(p[1]) for p in photos]
    print(
        "plain border found: "
        + ", ".join(
            f"{s} {sum(1 for p, m in zip(photos, models) if p[0] == s and m is not None)}"
            for s in dict.fromkeys(p[0] for p in photos)
        )
    )
    grid = itertools.product((None, 0.08, 0.15, 0.25), (20.0, 30.0), (0.5, 0.65), (3.0, 4.5, 6.0))
    for half_seen, distance_cut, darkening, spread in grid:
        if half_seen is None and (distance_cut, darkening, spread) != (20.0, 0.5, 3.0):
            continue
        steps.SHADOW_DARKENING = darkening
        per_set: dict[str, list[float]] = {}
        kept, shadowed, changed = 0, 0, []
        for (name, rgb, truth, shadow, alpha), model in zip(photos, models):
            before = _iou(alpha >= 0.5, truth)
            if half_seen is not None and model is not None and model.spread <= spread:
                added = steps.half_seen_parts(alpha, steps.backdrop_distance(rgb, model), half_seen, distance_cut)
                alpha = np.where(added, 1.0, alpha)
            cut = alpha >= 0.5
            per_set.setdefault(name, []).append(_iou(cut, truth))
            if abs(per_set[name][-1] - before) > 0.01:
                changed.append(f"{name} {before:.3f}->{per_set[name][-1]:.3f}")
            if shadow is not None and name == "shadows":
                kept += int((cut & shadow).sum())
                shadowed += int(shadow.sum())
        label = (
            "without the step"
            if half_seen is None
            else f"half-seen {half_seen} distance {distance_cut} shadow {darkening} spread {spread}"
        )
        print(
            f"{label:<56} "
            + "  ".join(f"{s} {np.mean(v):.4f}" for s, v in per_set.items())
            + f"  shadow kept {kept / max(shadowed, 1):.1%}  changed: {', '.join(changed[:8])}",
            flush=True,
        )
    return 0


def _iou(cut: np.ndarray, truth: np.ndarray) -> float:
    return float((cut & truth).sum()) / max(int((cut | truth).sum()), 1)


if __name__ == "__main__":
    raise SystemExit(main())
