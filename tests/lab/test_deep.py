"""The U-Net side: builders, the dataset reader, one training step, export/load, inference, evaluate.

Tests that import TensorFlow (building, training, exporting networks) are in the slow tier: the
fast tier runs the shipped networks on ONNX Runtime only, as users do.

Everything runs on tiny synthetic images written in the Oxford-IIIT Pet layout; no test needs
../shared, and none trains beyond a step or two (CI never trains a real model).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgapp.cli import main
from bgapp.core.models import MODELS, ModelConfig, model_files
from bgapp.lab import datasets as dataset
from bgapp.lab import synth
from bgapp.lab.metrics import binary_scores, trimap_accuracy


def write_tiny_dataset(root: Path, count: int = 6, size: tuple[int, int] = (96, 72)) -> Path:
    return dataset.write_synthetic_dataset(root, count, size, test_count=2)


def test_dataset_layout_round_trip(tmp_path):
    root = write_tiny_dataset(tmp_path / "set")
    assert dataset.read_split(root, "trainval") == [f"scene_{i:02d}" for i in range(4)]
    rgb, trimap = dataset.load_example(root, "scene_04")
    assert rgb.shape == (72, 96, 3) and trimap.shape == (72, 96)
    assert set(np.unique(trimap)) == {1, 2, 3}


def test_trimap_from_mask_puts_the_border_on_the_edge():
    mask = np.zeros((40, 40), np.float32)
    mask[10:30, 10:30] = 1.0
    trimap = dataset.trimap_from_mask(mask, border=2)
    assert trimap[20, 20] == dataset.OBJECT and trimap[0, 0] == dataset.BACKGROUND
    assert trimap[10, 20] == dataset.BORDER and trimap[11, 20] == dataset.BORDER
    assert trimap[9, 20] == dataset.BACKGROUND  # the border never reaches into the background
    np.testing.assert_array_equal(dataset.foreground(trimap), mask)  # object + border = the object


def test_holdout_is_seeded_and_disjoint():
    names = [f"n{i}" for i in range(50)]
    train, val = dataset.split_holdout(names, 0.1, seed=3)
    assert len(val) == 5 and not set(train) & set(val) and sorted(train + val) == sorted(names)
    assert dataset.split_holdout(names, 0.1, seed=3) == (train, val)
    assert dataset.split_holdout(names, 0.1, seed=4)[1] != val


def test_missing_layout_is_a_clear_error(tmp_path):
    assert main(["evaluate", "--method", "threshold", "--data", str(tmp_path)]) == 2


def test_metrics_on_hand_made_masks():
    truth = np.zeros((10, 10), np.float32)
    truth[:, :5] = 1  # 50 object pixels
    guess = np.zeros((10, 10), np.float32)
    guess[:, :4] = 1  # 40 of them found, nothing extra
    scores = binary_scores(guess, truth)
    assert scores["accuracy"] == pytest.approx(0.9)
    assert scores["iou"] == pytest.approx(40 / 50)
    assert scores["f1"] == pytest.approx(80 / 90)
    assert scores["mae"] == pytest.approx(0.1)
    trimap = np.where(truth > 0, 1, 2).astype(np.uint8)
    trimap[:, 4] = 3
    predicted = trimap.copy()
    predicted[0, :] = 2  # 10 pixels wrong in the top row, of which 5 were already background
    assert trimap_accuracy(predicted, trimap) == pytest.approx(0.95)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_preset_builds_small_with_softmax_output(name):
    pytest.importorskip("tensorflow")
    from bgapp.lab.unet import build_unet

    config = ModelConfig(**{**MODELS[name].config.to_json(), "size": 64, "decoder": MODELS[name].config.decoder})
    model = build_unet(config)
    assert model.count_params() <= 5_000_000
    photos = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    inputs = [photos, np.zeros((2, 64, 64, config.guidance), np.float32)] if config.guidance else photos
    out = np.asarray(model(inputs))
    assert out.shape == (2, 64, 64, 3)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_size_must_be_a_multiple_of_32():
    pytest.importorskip("tensorflow")
    from bgapp.lab.unet import build_unet

    with pytest.raises(ValueError, match="multiple of 32"):
        build_unet(ModelConfig("plain", size=100))


@pytest.mark.slow
def test_train_a_step_resume_export_and_segment(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow")
    root = write_tiny_dataset(tmp_path / "set")
    out = tmp_path / "weights"
    args = [
        "train",
        "--model",
        "unet-plain",
        "--data",
        str(root),
        "--epochs",
        "1",
        "--size",
        "64",
        "--batch",
        "2",
        "--val-fraction",
        "0.25",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    files = model_files("unet-plain", out)
    assert all(files[k].exists() for k in ("weights", "config", "card", "history"))
    assert len(json.loads(files["history"].read_text())) == 1
    assert main(args) == 2  # a checkpoint exists: refuses to start over silently
    assert main([*args[:6], "2", *args[7:], "--resume"]) == 0
    history = json.loads(files["history"].read_text())
    assert [row["epoch"] for row in history] == [1, 2] and "val_pixel_accuracy" in history[0]
    meta = json.loads(files["config"].read_text())
    assert meta["config"]["size"] == 64 and meta["training"]["epochs_run"] == 2
    assert "test split is never read" in files["card"].read_text()
    assert "--size 64" in files["card"].read_text()  # the reproduce line says everything that mattered

    # Exported weights load into a fresh network and give the same answer (float16 kernels).
    import keras

    from bgapp.core.runtime import predictor
    from bgapp.lab.train import export_weights
    from bgapp.lab.unet import build_unet, load_weights

    trained = keras.models.load_model(out / ".checkpoints" / "unet-plain.keras")
    export_weights(trained, tmp_path / "roundtrip.npz")
    fresh = build_unet(ModelConfig.from_json(meta["config"]))
    load_weights(fresh, tmp_path / "roundtrip.npz")
    probe = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    assert np.abs(np.asarray(fresh(probe)) - np.asarray(trained(probe))).max() < 0.02
    with pytest.raises(Exception, match="does not match"):
        load_weights(build_unet(ModelConfig("mobilenetv2", size=64)), files["weights"])

    # train wrote the ONNX file cut-outs run on: the same answers as the Keras network with the best weights
    monkeypatch.setenv("BGAPP_WEIGHTS", str(out))
    best = build_unet(ModelConfig.from_json(meta["config"]))
    load_weights(best, files["weights"])
    run = predictor("unet-plain", 64, str(out))
    assert np.abs(run.run(probe) - np.asarray(best(probe))).max() < 1e-4
    probs = run.probabilities(synth.render_scene(3, (90, 60), "grey", "box").rgb)
    assert probs.shape == (60, 90, 3) and np.allclose(probs.sum(-1), 1.0, atol=1e-3)

    # evaluate --record copies what it printed into the model card.
    assert main(["evaluate", "--method", "unet-plain", "--data", str(root), "--param", "size=96", "--record"]) == 0
    card = files["card"].read_text()
    assert "trimap_accuracy" in card and f"--data {root} --split test --param size=96" in card
    assert json.loads(files["config"].read_text())["evaluations"][f"{root.name}/test"]["summary"]["images"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_export_equals_the_keras_network(name, tmp_path):
    """Every shipped design converts exactly: the ONNX graph (what cut-outs run on) answers what the
    Keras network answers, at two input sizes from one file, within 1e-4 per class probability."""
    import keras
    import onnxruntime

    from bgapp.lab.onnx_export import keras_to_onnx
    from bgapp.lab.unet import build_unet

    keras.utils.set_random_seed(3)
    model = build_unet(
        ModelConfig(**{**MODELS[name].config.to_json(), "size": 64, "decoder": MODELS[name].config.decoder})
    )
    for layer in model.layers:  # random BatchNorm statistics, so the folding is really tested
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(np.random.default_rng(1).normal(0, 0.2, shape))
            layer.moving_variance.assign(np.random.default_rng(2).uniform(0.5, 1.5, shape))
        if layer.name == "guide_proj":  # starts at zero: make the click path count in the comparison
            layer.kernel.assign(np.random.default_rng(4).normal(0, 0.5, layer.kernel.shape))
    session = onnxruntime.InferenceSession(str(keras_to_onnx(model, tmp_path / "m.onnx")))
    guidance = MODELS[name].config.guidance
    for size in (64, 96):
        probe = np.random.default_rng(size).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
        feeds = {"rgb": probe}
        if guidance:
            feeds["guide"] = (np.random.default_rng(size + 1).uniform(0, 1, (1, size, size, guidance)) > 0.7).astype(
                np.float32
            )
        keras_model = build_unet(
            ModelConfig(**{**MODELS[name].config.to_json(), "size": size, "decoder": MODELS[name].config.decoder})
        )
        keras_model.set_weights(model.get_weights())
        expected = np.asarray(keras_model(list(feeds.values()) if guidance else probe, training=False))
        got = session.run(None, feeds)[0]
        assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-4


@pytest.mark.slow
def test_mix_draws_each_folder_by_its_weight():
    """--mix: a small folder weighted 3:1 against a large one fills about three quarters of the batches."""
    tf = pytest.importorskip("tensorflow")

    from bgapp.lab.augment import augmented as _augmented

    images = np.zeros((40, 40, 40, 3), np.float32)
    labels = np.zeros((40, 40, 40, 1), np.uint8)
    labels[:4] = 1  # folder A: 4 images of class 1; folder B: 36 images of class 0
    groups = [np.arange(4), np.arange(4, 40)]
    stream = _augmented(tf, images, labels, groups, (3.0, 1.0), 32, 8, seed=0)
    drawn = [int(batch[1][i, 0, 0, 0]) for batch in stream.take(60) for i in range(8)]
    assert 0.68 < np.mean(drawn) < 0.82
    plain = _augmented(tf, images, labels, groups, None, 32, 8, seed=0)
    drawn = [int(batch[1][i, 0, 0, 0]) for batch in plain.take(60) for i in range(8)]
    assert np.mean(drawn) < 0.2  # without --mix: in proportion to size (10 %)


def test_mix_needs_one_weight_per_folder(tmp_path):
    root = write_tiny_dataset(tmp_path / "set")
    assert (
        main(
            [
                "train",
                "--model",
                "unet-plain",
                "--data",
                str(root),
                "--epochs",
                "1",
                "--mix",
                "1",
                "2",
                "--out",
                str(tmp_path / "w"),
            ]
        )
        == 2
    )


def test_evaluate_json_schema(tmp_path, capsys):
    root = write_tiny_dataset(tmp_path / "set")
    assert main(["evaluate", "--method", "threshold", "--data", str(root), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {"method", "split", "images", "trimap_accuracy", "accuracy", "iou", "f1", "mae", "ms_per_image"} <= set(
        summary
    )
    assert summary["images"] == 2 and summary["split"] == "test" and summary["trimap_accuracy"] is None
    # the same figure by another road: the library call on each test photo, IoU counted by hand
    import bgapp

    expected = []
    for name in dataset.read_split(root, "test"):
        rgb, trimap = dataset.load_example(root, name)
        alpha = bgapp.cut(rgb, method="threshold").alpha >= 0.5
        truth = dataset.foreground(trimap) >= 0.5
        expected.append((alpha & truth).sum() / (alpha | truth).sum())
    assert summary["iou"] == pytest.approx(float(np.mean(expected)), abs=1e-4)
    assert summary["iou"] > 0.5 and 0 <= summary["mae"] < 0.5
    # the worst images are named, lowest IoU first, and the lowest is iou_min
    worst = summary["worst"]
    assert len(worst) == 2 and [w["iou"] for w in worst] == sorted(w["iou"] for w in worst)
    assert worst[0]["iou"] == summary["iou_min"] and {w["name"] for w in worst} <= set(dataset.read_split(root, "test"))
    assert (
        main(
            ["evaluate", "--method", "threshold", "--data", str(root), "--split", "trainval", "--limit", "1", "--json"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["images"] == 1


def test_deep_methods_say_why_they_are_unavailable(tmp_path, monkeypatch, capsys):
    from bgapp.core.methods import all_methods

    monkeypatch.setenv("BGAPP_WEIGHTS", str(tmp_path))
    deep = [m for m in all_methods().values() if m.family == "deep"]
    assert {m.name for m in deep} >= {"unet-mobilenetv2", "unet-mobilenetv3", "unet-plain", "unet-effnet-lite0"}
    from bgapp.core.external import REGISTRY

    for method in deep:  # ours: how to train it; a network that is not ours (u2net): how to fetch it
        if method.name == "auto":  # runs on whatever is installed, GrabCut at the least
            assert method.available() is None
            continue
        why = method.available() or ""
        assert (f"python -m bgapp models fetch {method.name}" in why) if method.name in REGISTRY else ("train" in why)
    photo = tmp_path / "photo.png"
    Image.fromarray(synth.render_scene(3, (64, 48)).rgb).save(photo)
    # the method is known but cannot run here: one line saying why, before any photo, status 2
    assert main(["cut", str(photo), "--method", "unet-plain", "--out", str(tmp_path / "out")]) == 2
    assert (
        "unet-plain cannot run here: no weights file" in capsys.readouterr().err
        and not (tmp_path / "out" / "photo.png").exists()
    )


def test_classical_path_never_imports_tensorflow():
    code = (
        "import sys; from bgapp.core.pipeline import resolve_settings, segment_working; from bgapp.lab import synth;"
        "from bgapp.core.methods import all_methods; all_methods();"
        "segment_working(synth.render_scene(1, (64, 48)).rgb, resolve_settings('kmeans'));"
        "print('tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    "name", ["unet-mobilenetv2", "unet-mobilenetv3", "unet-plain", "unet-effnet-lite0", "unet-product"]
)
def test_committed_weights_segment_a_photo(name):
    from bgapp.core.methods import get_method

    if not model_files(name)["weights"].exists():
        pytest.skip(f"{name} weights not committed")
    method = get_method(name)
    scene = synth.render_scene(5, (320, 240), "white", "jar")
    mask = method.run(scene.rgb, {})
    assert mask.shape == (240, 320) and set(np.unique(mask)) <= {0.0, 1.0}
    classes = method.trimap(scene.rgb, method.resolve({}))
    assert classes.shape == (240, 320) and set(np.unique(classes)) <= {1, 2, 3}
    if name == "unet-product":  # the pet models look for pets and may well find nothing here
        assert binary_scores(mask, scene.mask)["iou"] > 0.8


@pytest.mark.dataset
@pytest.mark.slow
def test_every_pet_example_loads_with_a_matching_trimap(pet_data):
    for split in ("trainval", "test"):
        for name in dataset.read_split(pet_data, split):
            rgb, trimap = dataset.load_example(pet_data, name)  # palette and RGBA photos included
            assert rgb.ndim == 3 and rgb.shape[2] == 3 and trimap.shape == rgb.shape[:2]
            assert set(np.unique(trimap)) <= {1, 2, 3}


@pytest.mark.dataset
def test_pretrained_model_on_real_pet_photos(pet_data):
    from bgapp.lab.evaluate import evaluate

    if not model_files("unet-effnet-lite0")["weights"].exists():
        pytest.skip("unet-effnet-lite0 weights not committed")
    summary = evaluate("unet-effnet-lite0", pet_data, "test", limit=12)
    assert summary["trimap_accuracy"] > 0.8 and summary["iou"] > 0.75


def test_prepare_loads_the_network_before_the_first_photo():
    """The studio calls prepare() outside its timing: the first photo then finds the network loaded."""
    pytest.importorskip("onnxruntime")
    from bgapp.core.methods import all_methods
    from bgapp.core.runtime import predictor

    method = all_methods()["unet-product"]
    if method.available():
        pytest.skip(method.available())
    params = method.resolve({})
    predictor.cache_clear()
    method.prepare(params)
    loaded = predictor.cache_info()
    assert loaded.currsize == 1 and loaded.misses == 1
    method.run(synth.render_scene(5, (120, 90), "white", "jar").rgb, params)
    after = predictor.cache_info()
    assert after.misses == 1 and after.hits > loaded.hits


def test_mirror_averages_the_photo_and_its_mirror_image():
    """``mirror`` is test-time augmentation: the answer on the mirrored photo, mirrored back, averaged
    with the plain one (a network that only sees the left half shows it)."""
    from bgapp.core.runtime import Predictor

    def left_half(batch: np.ndarray) -> np.ndarray:
        probs = np.zeros(batch.shape[:3] + (3,), np.float32)
        probs[..., 1] = 1.0
        probs[:, :, : batch.shape[2] // 2] = (1.0, 0.0, 0.0)  # "object" on the left half, whatever the photo
        return probs

    network = Predictor("fake", 32, left_half)
    rgb = np.zeros((20, 40, 3), np.uint8)
    plain, mirrored = network.probabilities(rgb), network.probabilities(rgb, mirror=True)
    assert plain[:, :18, 0].min() > 0.99 and plain[:, 22:, 0].max() < 0.01
    np.testing.assert_allclose(mirrored[:, :, 0], 0.5, atol=0.02)  # left in one view, right in the other
    np.testing.assert_allclose(mirrored.sum(axis=-1), 1.0, atol=1e-5)


def test_a_card_sets_the_cut_out_size_and_mirror_defaults(monkeypatch):
    """The defaults chosen on the hold-out live in the model's card, not in code: a card without them
    keeps the training size and a single look (what the pet models' recorded figures used)."""
    from bgapp.core.methods import _unet

    chosen = {"config": {"size": 224}, "inference_size": 288, "inference_mirror": True}
    monkeypatch.setattr(_unet, "read_config", lambda name: chosen if name == "chosen" else {"config": {"size": 160}})
    assert _unet.unet_method("chosen", "").resolve({})["size"] == 288
    assert _unet.unet_method("chosen", "").resolve({})["mirror"] is True
    plain = _unet.unet_method("plain", "").resolve({})
    assert plain["size"] == 160 and plain["mirror"] is False


def test_soft_targets_blend_the_truth_with_the_teacher():
    """Distillation targets: (1 - w) x the true classes + w x the teacher's probabilities, as uint8 x 255."""
    from bgapp.lab.teaching import soft_targets

    labels = np.array([[[[0], [1]], [[2], [1]]]], np.uint8)  # 1 photo, 2x2: object, background, border, background
    teacher = np.zeros((1, 2, 2, 3), np.float32)
    teacher[..., 1] = 1.0  # a teacher sure it is all background
    blended = soft_targets(labels, teacher, 0.25) / 255.0
    assert blended.shape == (1, 2, 2, 3) and blended.dtype == np.float64
    assert np.allclose(blended[0, 0, 0], [0.75, 0.25, 0.0], atol=1 / 255)
    assert np.allclose(blended[0, 1, 0], [0.0, 0.25, 0.75], atol=1 / 255)
    assert np.allclose(blended[0, 0, 1], [0.0, 1.0, 0.0])  # where both agree, the target stays sure
    assert np.array_equal(soft_targets(labels, None, 0.0).argmax(-1), labels[..., 0])  # validation: the truth


def test_teacher_folder_without_the_model_is_refused(tmp_path, capsys):
    root = write_tiny_dataset(tmp_path / "set")
    assert (
        main(
            [
                "train",
                "--model",
                "unet-plain",
                "--data",
                str(root),
                "--epochs",
                "1",
                "--teacher",
                str(tmp_path),
                "--out",
                str(tmp_path / "w"),
            ]
        )
        == 2
    )
    assert "no unet-plain.onnx" in capsys.readouterr().err


@pytest.mark.slow
def test_train_with_a_teacher(tmp_path):
    """--teacher: a network trained on soft targets from another run's answers; validation still on
    the true masks (its fg_iou is comparable with a run without a teacher)."""
    pytest.importorskip("tensorflow")
    root = write_tiny_dataset(tmp_path / "set")
    common = [
        "--model",
        "unet-plain",
        "--data",
        str(root),
        "--epochs",
        "1",
        "--size",
        "64",
        "--batch",
        "2",
        "--val-fraction",
        "0.25",
        "--loss",
        "ce+iou",
    ]
    assert main(["train", *common, "--out", str(tmp_path / "teacher")]) == 0
    assert (
        main(
            [
                "train",
                *common,
                "--out",
                str(tmp_path / "student"),
                "--teacher",
                str(tmp_path / "teacher"),
                "--teacher-weight",
                "0.7",
            ]
        )
        == 0
    )
    history = json.loads(model_files("unet-plain", tmp_path / "student")["history"].read_text())
    assert len(history) == 1 and np.isfinite(history[0]["loss"]) and 0.0 <= history[0]["val_fg_iou"] <= 1.0
    files = model_files("unet-plain", tmp_path / "student")
    training = json.loads(files["config"].read_text())["training"]
    assert training["teacher"] == [str(tmp_path / "teacher")] and training["teacher_weight"] == 0.7
    assert f"--teacher {tmp_path / 'teacher'} --teacher-weight 0.7" in files["card"].read_text()
