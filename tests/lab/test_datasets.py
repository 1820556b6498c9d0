"""The dataset reader: Pet, DUTS and images/ + masks/ layouts, bad pairs named and skipped, and the
figures ``evaluate`` prints on mask datasets (binary truth, max F-measure). Tiny synthetic files only."""

from __future__ import annotations

import numpy as np
import pytest
from _data import _scene, write_duts  # tests/_data.py: the small datasets several test folders write
from PIL import Image

from bgapp.cli import main
from bgapp.core.errors import BgappError
from bgapp.lab import datasets as dataset
from bgapp.lab.evaluate import evaluate, max_f_measure, precision_recall_curve


def test_duts_layout_splits_and_a_listed_name_without_files(tmp_path):
    root = write_duts(tmp_path / "duts")
    assert dataset.layout(root) == "duts"
    assert dataset.read_split(root, "trainval") == [f"duts-tr_{i:03d}" for i in range(5)]
    assert dataset.read_split(root, "test") == [f"duts-te_{i:03d}" for i in range(3)]
    assert dataset.read_split(root / "DUTS-TE", "test") == dataset.read_split(root, "test")  # the subset folder itself
    listing = dataset.list_split(root, "test")
    assert listing.problems == [f"duts-te_gone: no photo in {root / 'DUTS-TE' / 'DUTS-TE-Image'}"]
    with pytest.raises(BgappError, match="splits"):
        dataset.list_split(root, "val")


def test_a_mask_becomes_binary_truth_and_a_trimap_whose_border_is_inside(tmp_path):
    root = write_duts(tmp_path / "duts")
    rgb, trimap, truth = dataset.load_truth(root, "duts-te_001")
    mask = np.asarray(Image.open(root / "DUTS-TE" / "DUTS-TE-Mask" / "duts-te_001.png"))
    np.testing.assert_array_equal(truth, (mask >= 128).astype(np.float32))
    np.testing.assert_array_equal(dataset.foreground(trimap), truth)  # object + border = the mask
    assert (trimap == dataset.BORDER).any() and trimap.shape == rgb.shape[:2]


def test_bad_pairs_are_named_and_skipped_never_silently(tmp_path):
    root = tmp_path / "shop"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(3):
        rgb, mask = _scene(i)
        Image.fromarray(rgb).save(root / "images" / f"ok{i}.png")
        Image.fromarray(mask).save(root / "masks" / f"ok{i}.png")
    rgb, mask = _scene(5)
    Image.fromarray(rgb).save(root / "images" / "nomask.jpg")
    Image.fromarray(rgb).save(root / "images" / "smallmask.jpg")
    Image.fromarray(mask[:30, :40]).save(root / "masks" / "smallmask.png")
    (root / "images" / "broken.jpg").write_bytes(b"not a photo at all")
    Image.fromarray(mask).save(root / "masks" / "broken.png")
    Image.fromarray(mask).save(root / "masks" / "orphan.png")

    assert dataset.layout(root) == "folders"
    listing = dataset.list_split(root, "test")  # no list files: the folder is one set
    assert [p.name for p in listing.pairs] == ["broken", "ok0", "ok1", "ok2", "smallmask"]
    assert any(line.startswith("nomask: no mask") for line in listing.problems)
    assert any(line.startswith("orphan: mask orphan.png has no photo") for line in listing.problems)

    problems: list[str] = []
    loaded = [name for name, *_ in dataset.iter_examples(root, "test", problems=problems)]
    assert loaded == ["ok0", "ok1", "ok2"]
    assert any(p.startswith("smallmask:") and "differ in size" in p for p in problems)
    assert any("broken" in p for p in problems) and len(problems) == 4

    summary = evaluate("threshold", root, "test")
    assert summary["images"] == 3 and len(summary["skipped"]) == 4


def test_split_files_choose_a_folder_datasets_photos(tmp_path):
    root = tmp_path / "shop"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(4):
        rgb, mask = _scene(i)
        Image.fromarray(rgb).save(root / "images" / f"p{i}.jpg")
        Image.fromarray(mask).save(root / "masks" / f"p{i}.png")
    (root / "test.txt").write_text("p3\np1\n")
    assert dataset.read_split(root, "test") == ["p3", "p1"]
    assert dataset.read_split(root, "trainval") == ["p0", "p1", "p2", "p3"]


def test_not_a_dataset_is_one_clear_line(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(BgappError, match="not a dataset folder"):
        dataset.layout(tmp_path / "photos")
    assert main(["evaluate", "--method", "threshold", "--data", str(tmp_path / "photos")]) == 2


def test_max_f_measure_on_hand_made_maps():
    truth = np.zeros((10, 10), np.float32)
    truth[:5] = 1.0
    assert max_f_measure([precision_recall_curve(truth, truth)]) == pytest.approx(1.0)
    # half the object found and nothing else: precision 1, recall 0.5 -> F = 1.3 * 0.5 / (0.3 + 0.5)
    half = np.zeros_like(truth)
    half[:5, :5] = 0.9
    assert max_f_measure([precision_recall_curve(half, truth)]) == pytest.approx(1.3 * 0.5 / 0.8)
    # a map that ranks background above the object never reaches a good F at any level
    assert max_f_measure([precision_recall_curve(1.0 - truth, truth)]) < 0.7


def test_evaluate_on_duts_prints_max_f_and_binary_figures(tmp_path, capsys):
    root = write_duts(tmp_path / "duts")
    assert main(["evaluate", "--method", "threshold", "--data", str(root), "--worst", "2"]) == 0
    text = capsys.readouterr().out
    assert "on the test split" in text and "3 images" in text and "max_f" in text
    assert "trimap_accuracy       n/a" in text  # masks have no border class to score
    assert text.count("(") >= 2 and "left out 1 unusable pair" in text  # the listed name without files


def test_train_loader_reports_and_skips_a_bad_pair(tmp_path):
    from bgapp.lab.train import _load_arrays

    root = write_duts(tmp_path / "duts")
    (root / "DUTS-TR" / "DUTS-TR-Image" / "duts-tr_002.jpg").write_bytes(b"\xff\xd8broken")
    problems: list[str] = []
    names = [f"0/{n}" for n in dataset.read_split(root, "trainval")]
    images, labels, kept = _load_arrays({"0": root}, names, 32, problems, lambda line: None)
    assert kept == [n for n in names if not n.endswith("002")] and images.shape == (4, 32, 32, 3)
    assert images.dtype == np.uint8 and set(np.unique(labels)) <= {0, 1, 2}
    assert len(problems) == 1 and "duts-tr_002" in problems[0]


def test_make_scenes_takes_its_real_objects_from_a_duts_folder(tmp_path):
    root = write_duts(tmp_path / "duts", train=3, test=1)
    out = tmp_path / "scenes"
    assert (
        main(
            ["make-scenes", "--out", str(out), "--count", "3", "--seed", "5", "--objects", str(root), "--size", "96x72"]
        )
        == 0
    )
    names = dataset.read_split(out, "trainval")
    assert len(names) == 3
    rgb, trimap = dataset.load_example(out, names[0])
    assert rgb.shape == (72, 96, 3) and set(np.unique(trimap)) <= {1, 2, 3}


def test_evaluate_holdout_scores_exactly_what_train_holds_out(tmp_path, capsys):
    duts = write_duts(tmp_path / "duts", train=12, test=2)
    other = write_duts(tmp_path / "other", train=8, test=1)
    roots = [duts, other]
    held = dataset.holdout_names(roots, 0, fraction=0.25, seed=3)
    names = [f"{i}/{p.name}" for i, r in enumerate(roots) for p in dataset.list_split(r, "trainval").pairs]
    _, val = dataset.split_holdout(names, 0.25, 3)  # what train does with the same folders
    assert held == {n[2:] for n in val if n.startswith("0/")} and held
    assert (
        main(
            [
                "evaluate",
                "--method",
                "threshold",
                "--data",
                str(duts),
                "--holdout-of",
                str(duts),
                str(other),
                "--val-fraction",
                "0.25",
                "--seed",
                "3",
                "--json",
            ]
        )
        == 0
    )
    import json

    summary = json.loads(capsys.readouterr().out)
    assert summary["split"] == "trainval" and summary["images"] == len(held)
    assert main(["evaluate", "--method", "threshold", "--data", str(duts), "--holdout-of", str(other)]) == 2


def test_the_hold_out_rebuilt_from_the_other_folders_counts_is_the_one_train_holds_out(tmp_path):
    duts = write_duts(tmp_path / "duts", train=12, test=2)
    other = write_duts(tmp_path / "other", train=8, test=1)
    rebuilt = dataset.holdout_by_counts(duts, [8], fraction=0.25, seed=3)
    assert set(rebuilt) == dataset.holdout_names([duts, other], 0, fraction=0.25, seed=3) and rebuilt
    assert set(dataset.holdout_by_counts(duts, [30], fraction=0.25, seed=3)) != set(rebuilt)  # the count matters
