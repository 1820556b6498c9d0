"""``batch``: the bookkeeping without Ray (fast tier) and real runs on a local Ray (slow tier).

The slow tests start a real local Ray: one run with bad files, a run killed with SIGKILL part-way and
resumed, the settings refusal and ``--overwrite``, a CSV manifest with the default network. Photos
are small (160x120) so the tier stays short; outputs are compared byte for byte with ``cut``'s.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgapp.batch import plan
from bgapp.batch.run import Progress, choose_gpus, default_workers
from bgapp.cli import main
from bgapp.core.errors import BgappError
from bgapp.core.pipeline import resolve_settings
from bgapp.lab import synth

ROOT = Path(__file__).resolve().parents[2]


def write_photos(folder: Path, names: list[str], size: tuple[int, int] = (160, 120), seed: int = 0) -> list[Path]:
    """Small synthetic product photos as JPEGs (a different scene each)."""
    paths = []
    for index, name in enumerate(names):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(synth.render_scene(seed + index, size).rgb).save(path, quality=90)
        paths.append(path)
    return paths


def add_bad_files(folder: Path) -> dict[str, str]:
    """Files the loader refuses, with a word its message must contain."""
    (folder / "notes.jpg").write_bytes(b"this is not a photo")
    good = io.BytesIO()
    Image.fromarray(synth.render_scene(99, (160, 120)).rgb).save(good, format="JPEG")
    (folder / "cut-short.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    Image.fromarray(synth.render_scene(98, (400, 300)).rgb).save(folder / "huge.jpg")  # 0.12 MP > 0.1 limit
    return {"notes.jpg": "not an image", "cut-short.jpg": "truncated", "huge.jpg": "MP limit"}


def read_manifest(out: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(out / plan.MANIFEST_PARQUET).to_pylist()


def journal_lines(out: Path) -> list[dict]:
    path = out / plan.JOURNAL_FILE
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


# --- fast tier: no Ray ---------------------------------------------------------------------------------


def test_ray_is_imported_only_by_batch(tmp_path):
    """The CLI (with `batch` registered), `cut`, the core, the library call and the app never import Ray."""
    photo = write_photos(tmp_path, ["p.jpg"])[0]
    code = (
        "import sys; import bgapp, bgapp.api, bgapp.cli, bgapp.cli.cut, bgapp.cli.batch, bgapp.core.pipeline, "
        "bgapp.batch.plan, bgapp.batch.run, bgapp.app.common; from bgapp.cli import main; "
        f"assert main(['cut', {str(photo)!r}, '--method', 'threshold', '--out', {str(tmp_path / 'o')!r}]) == 0; "
        "bad = sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')); "
        "assert not bad, bad; print('no ray')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=False, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "no ray" in done.stdout


def test_folder_listing_is_recursive_and_leaves_out_the_output_folder(tmp_path):
    shots = tmp_path / "shots"
    for name in ["b.jpg", "a/shoe.JPG", "a/deep/x.png", ".hidden/y.jpg", ".z.jpg", "notes.txt", "out/old.png"]:
        (shots / name).parent.mkdir(parents=True, exist_ok=True)
        (shots / name).write_bytes(b"x")
    listing = plan.list_inputs(str(shots), shots / "out")
    assert [i.key for i in listing.items] == ["a/deep/x.png", "a/shoe.JPG", "b.jpg"]
    assert listing.items[0].source == str(shots / "a/deep/x.png")
    assert listing.ignored == ["notes.txt"]


def test_glob_and_manifest_listings(tmp_path):
    shots = tmp_path / "shots"
    for name in ["red/shoe.jpg", "blue/shoe.jpg", "blue/bag.webp"]:
        (shots / name).parent.mkdir(parents=True, exist_ok=True)
        (shots / name).write_bytes(b"x")
    listing = plan.list_inputs(str(shots / "**" / "*.jpg"), tmp_path / "out")
    assert [i.key for i in listing.items] == ["blue/shoe.jpg", "red/shoe.jpg"]

    elsewhere = tmp_path / "elsewhere.jpg"
    elsewhere.write_bytes(b"x")
    (shots / "list.csv").write_text(f"sku,path\n1,red/shoe.jpg\n2,blue/bag.webp\n3,{elsewhere}\n4,red/shoe.jpg\n5,\n")
    items = plan.list_inputs(str(shots / "list.csv"), tmp_path / "out").items
    assert [(i.key, i.source) for i in items] == [
        ("blue/bag.webp", str(shots / "blue/bag.webp")),
        ("red/shoe.jpg", str(shots / "red/shoe.jpg")),
        (str(elsewhere).lstrip("/"), str(elsewhere)),
    ]

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"image": ["red/shoe.jpg", "s3://shop/a/b.jpg"]}), shots / "list.parquet")
    items = plan.list_inputs(str(shots / "list.parquet"), tmp_path / "out", path_column="image").items
    assert [(i.key, i.source) for i in items] == [
        ("red/shoe.jpg", str(shots / "red/shoe.jpg")),
        ("shop/a/b.jpg", "s3://shop/a/b.jpg"),
    ]
    with pytest.raises(BgappError, match="no column 'path'.*--path-column"):
        plan.list_inputs(str(shots / "list.parquet"), tmp_path / "out")
    with pytest.raises(BgappError, match="no such folder"):
        plan.list_inputs(str(tmp_path / "missing"), tmp_path / "out")


def test_output_names_follow_the_relative_path_and_stay_stable():
    keys = ["red/shoe.jpg", "blue/shoe.jpg", "blue/shoe.png", "shoe.jpg"]
    outputs = plan.assign_outputs(keys, "transparent", ".png")
    assert outputs == {
        "red/shoe.jpg": "red/shoe.png",
        "blue/shoe.jpg": "blue/shoe.png",
        "blue/shoe.png": "blue/shoe-2.png",
        "shoe.jpg": "shoe.png",
    }
    assert plan.assign_outputs(["a/x.tif"], "white", ".jpg") == {"a/x.tif": "a/x-white.jpg"}
    # a photo added later that sorts first must not take the name an earlier run gave another
    later = plan.assign_outputs(["blue/shoe.avif", *keys], "transparent", ".png", reserved=outputs)
    assert {k: later[k] for k in keys} == outputs
    assert later["blue/shoe.avif"] == "blue/shoe-3.png"
    assert plan.stem_of("shoe-2-amazon.jpg", "amazon", ".jpg") == "shoe-2"


def test_settings_hash_changes_with_what_changes_a_result(tmp_path):
    export = {"preset": "transparent", "format": "png"}
    base = plan.settings_doc(resolve_settings("threshold", {}), export, mask=False)
    assert plan.settings_hash(base) == plan.settings_hash(json.loads(json.dumps(base)))
    other = plan.settings_doc(resolve_settings("threshold", {"blur": 7}), export, mask=False)
    masked = plan.settings_doc(resolve_settings("threshold", {}), export, mask=True)
    assert len({plan.settings_hash(d) for d in (base, other, masked)}) == 3
    assert plan.differences(base, other) == ["method_params.blur: 5 -> 7"]


def test_job_refuses_other_settings_unless_overwrite(tmp_path):
    export = {"preset": "transparent", "format": "png"}
    first = plan.settings_doc(resolve_settings("threshold", {}), export, mask=False)
    second = plan.settings_doc(resolve_settings("threshold", {"blur": 9}), export, mask=False)
    assert plan.open_job(tmp_path, first, overwrite=False) is False  # a new job
    (tmp_path / plan.JOURNAL_FILE).write_text('{"key": "a.jpg"}\n')
    assert plan.open_job(tmp_path, first, overwrite=False) is True  # the same settings: resume
    with pytest.raises(BgappError) as error:
        plan.open_job(tmp_path, second, overwrite=False)
    assert "\n" not in str(error.value) and "blur: 5 -> 9" in str(error.value) and "--overwrite" in str(error.value)
    assert (tmp_path / plan.JOURNAL_FILE).exists()  # refused: nothing touched
    assert plan.open_job(tmp_path, second, overwrite=True) is False
    assert not (tmp_path / plan.JOURNAL_FILE).exists()
    assert json.loads((tmp_path / plan.JOB_FILE).read_text())["settings_hash"] == plan.settings_hash(second)


def test_cli_refuses_to_mix_settings_before_starting_ray(tmp_path, capsys):
    write_photos(tmp_path / "in", ["a.jpg"])
    out = tmp_path / "out"
    out.mkdir()
    doc = plan.settings_doc(resolve_settings("threshold", {}), {"preset": "transparent", "format": "png"}, False)
    plan.open_job(out, {**doc, "method": "kmeans"}, overwrite=False)
    code = main(["batch", str(tmp_path / "in"), "--out", str(out), "--method", "threshold"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "method: kmeans -> threshold" in err
    assert "ray" not in sys.modules


def test_journal_and_plan_skip_only_what_is_done(tmp_path):
    items = [plan.InputItem(k, f"/in/{k}") for k in ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]]
    outputs = plan.assign_outputs([i.key for i in items], "transparent", ".png")
    tasks = {key: plan.Task(key, f"/in/{key}", output) for key, output in outputs.items()}
    journal = plan.Journal(tmp_path / plan.JOURNAL_FILE)
    journal.append(
        [
            plan.record(tasks["a.jpg"], "ok", "", 10, 5, "threshold", "H"),
            plan.record(tasks["b.jpg"], "failed", "b.jpg: truncated", 0, 1, "threshold", "H"),
            plan.record(tasks["c.jpg"], "ok", "", 10, 5, "threshold", "H"),
            plan.record(tasks["d.jpg"], "ok", "", 10, 5, "threshold", "OTHER"),
        ]
    )
    journal.close()
    with (tmp_path / plan.JOURNAL_FILE).open("a") as handle:
        handle.write('{"key": "c.jpg", "status": "ok", "outp')  # torn by a kill mid-write
    (tmp_path / "a.png").write_bytes(b"done")  # c.png was deleted since: redo it
    records = plan.read_journal(tmp_path / plan.JOURNAL_FILE)
    assert set(records) == {"a.jpg", "b.jpg", "c.jpg", "d.jpg"}
    todo, skipped = plan.plan_tasks(items, records, tmp_path, "transparent", ".png", "H")
    assert [t.key for t in skipped] == ["a.jpg"] and skipped[0].prior["bytes"] == 10
    assert [t.key for t in todo] == ["b.jpg", "c.jpg", "d.jpg"]
    (tmp_path / ".bgapp-half.png").write_bytes(b"half")
    assert plan.clean_temp_files(tmp_path) == 1 and (tmp_path / "a.png").exists()


def test_manifest_rows_and_files(tmp_path):
    done = {
        "b.jpg": {
            "input": "/in/b.jpg",
            "output": "b.png",
            "status": "failed",
            "error": "b.jpg: truncated",
            "bytes": 0,
            "ms": 3.5,
            "method": "threshold",
            "settings_hash": "H",
            "key": "b.jpg",
        }
    }
    skipped = {
        "a.jpg": {
            "input": "/in/a.jpg",
            "output": "a.png",
            "status": "ok",
            "error": "",
            "bytes": 12,
            "ms": 40.0,
            "method": "threshold",
            "settings_hash": "H",
        }
    }
    rows = plan.manifest_rows(["a.jpg", "b.jpg", "c.jpg"], done, skipped)
    assert [(r["input"], r["status"]) for r in rows] == [("/in/a.jpg", "skipped"), ("/in/b.jpg", "failed")]
    plan.write_manifest(tmp_path, rows)
    assert read_manifest(tmp_path) == rows
    csv_text = (tmp_path / plan.MANIFEST_CSV).read_text().splitlines()
    assert csv_text[0] == ",".join(plan.MANIFEST_COLUMNS)
    assert csv_text[2] == "/in/b.jpg,b.png,failed,b.jpg: truncated,0,3.5,threshold,H"


def test_gpus_workers_and_progress():
    assert choose_gpus(None, 0, deep=True) == 0 and choose_gpus(None, 2, deep=True) == 1
    assert choose_gpus(None, 2, deep=False) == 0 and choose_gpus(0.5, 1, deep=True) == 0.5
    with pytest.raises(BgappError, match="Ray sees 0 GPU"):
        choose_gpus(1, 0, deep=True)
    assert default_workers(64, 4, 1, local=False) == 4 and default_workers(64, 4, 0.5, local=False) == 8
    assert default_workers(64, 0, 0, local=False) == 48
    stream = io.StringIO()
    progress = Progress(4, stream=stream, every_s=0)
    progress.update(failed=False)
    progress.update(failed=True)
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("1/4  25% 0.00 photos/s ETA --:--")
    assert "2/4  50%" in lines[1] and "photos/s ETA" in lines[1] and lines[1].endswith("1 failed")


def test_exports_carry_no_creation_time():
    """`batch` results are byte-identical to `cut`'s made in another process at another second: the
    embedded sRGB profile must not carry the time it was made (LittleCMS stamps one)."""
    import struct

    from bgapp.core.images import srgb_profile

    assert srgb_profile().tobytes()[24:36] == struct.pack(">6H", 2000, 1, 1, 0, 0, 0)


# --- slow tier: a real local Ray ------------------------------------------------------------------------


def cut_reference(photos: list[Path], out: Path, *extra: str) -> dict[str, bytes]:
    """What `cut` writes for these photos (one folder per photo, so names cannot be renumbered)."""
    results = {}
    for index, photo in enumerate(photos):
        folder = out / str(index)
        assert main(["cut", str(photo), "--out", str(folder), *extra]) == 0
        (result,) = list(folder.iterdir())
        results[str(photo)] = result.read_bytes()
    return results


def ray_processes(session: int) -> list[int]:
    """PIDs still alive in the session the killed batch started (its Ray workers run in their own
    process groups, so the group kill does not reach them)."""
    listing = subprocess.run(["ps", "-eo", "pid=,sid=,stat="], capture_output=True, text=True, check=True).stdout
    return [
        int(pid)
        for pid, sid, stat in (line.split() for line in listing.splitlines())
        if int(sid) == session and not stat.startswith("Z")
    ]


@pytest.mark.slow
def test_killed_run_resumes_without_losing_or_redoing_a_photo(tmp_path):
    """SIGKILL the whole batch (driver, Ray and its workers) after a few photos, then run it again."""
    shots = tmp_path / "shots"
    good = write_photos(shots, [f"p{i:02d}.jpg" for i in range(16)] + ["more/p00.jpg", "more/p01.jpg"], size=(320, 240))
    add_bad_files(shots)
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "bgapp",
        "batch",
        str(shots),
        "--out",
        str(out),
        "--method",
        "threshold",
        "--workers",
        "1",
        "--max-megapixels",
        "0.1",
    ]
    proc = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 150
        while (
            sum(r["status"] == "ok" for r in journal_lines(out)) < 4
            and proc.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        time.sleep(3)
        for pid in ray_processes(proc.pid):  # only what this test started
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    before = journal_lines(out)
    done_before = {r["key"] for r in before if r["status"] == "ok"}
    assert 0 < len(done_before) < len(good), f"the kill came too late or too early: {len(done_before)} done"
    assert not (out / plan.MANIFEST_PARQUET).exists()  # killed before the end: only the journal says what is done

    assert main(command[3:]) == 1  # the same command: 3 bad files fail again
    after = journal_lines(out)[len(before) :]
    rows = read_manifest(out)
    statuses = {r["input"]: r["status"] for r in rows}
    assert len(rows) == len(good) + 3
    assert {k for k, s in statuses.items() if s == "skipped"} == {str(shots / k) for k in done_before}
    redone = {r["key"] for r in after if r["status"] == "ok"}
    assert redone.isdisjoint(done_before) and len(redone | done_before) == len(good)  # nothing done twice, none lost
    assert sorted(r["key"] for r in after if r["status"] == "failed") == ["cut-short.jpg", "huge.jpg", "notes.jpg"]
    print(
        f"\nresume figures: {len(done_before)} done before the kill, {len(redone)} done after, "
        f"{sum(s == 'skipped' for s in statuses.values())} skipped, {len(before)} journal lines at the kill"
    )

    reference = cut_reference(good, tmp_path / "cut", "--method", "threshold")
    for row in rows:
        if row["status"] in ("ok", "skipped"):
            assert (out / row["output"]).read_bytes() == reference[row["input"]], row["input"]
            assert (out / row["output"]).stat().st_size == row["bytes"]
    assert not [p for p in out.rglob(".bgapp-*")]
    assert (out / "more" / "p00.png").exists() and (out / "p00.png").exists()


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray for the in-process tests (each `batch` call sees it running and leaves it up)."""
    ray = pytest.importorskip("ray")
    from bgapp.batch.run import Cluster, _start_ray

    _start_ray(Cluster(workers=2))
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_run_with_bad_files_writes_cuts_results_and_a_manifest(tmp_path, ray_session, capsys):
    shots = tmp_path / "shots"
    good = write_photos(shots, [f"p{i:02d}.jpg" for i in range(15)] + ["more/p00.jpg", "more/x.png"])
    reasons = add_bad_files(shots)
    (shots / "readme.txt").write_text("not a photo by its name: passed over")
    out = tmp_path / "out"
    args = [
        "batch",
        str(shots),
        "--out",
        str(out),
        "--method",
        "threshold",
        "--export",
        "white",
        "--workers",
        "2",
        "--max-megapixels",
        "0.1",
    ]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "17 done, 3 failed, 0 skipped of 20 photo(s)" in captured.out
    assert "photos/s" in captured.out and "Traceback" not in captured.err
    rows = read_manifest(out)
    assert [r["input"] for r in rows] == sorted(
        (str(p) for p in [*good, *(shots / n for n in reasons)]), key=lambda s: Path(s).relative_to(shots).as_posix()
    )
    for row in rows:
        assert row["method"] == "threshold" and len(row["settings_hash"]) == 16 and row["ms"] > 0
        name = Path(row["input"]).name
        if name in reasons:
            assert row["status"] == "failed" and reasons[name] in row["error"] and "\n" not in row["error"]
            assert row["bytes"] == 0 and not (out / row["output"]).exists()
        else:
            assert row["status"] == "ok" and row["error"] == ""
            assert row["output"].endswith("-white.jpg") and (out / row["output"]).stat().st_size == row["bytes"]
    assert {r["output"] for r in rows if r["status"] == "ok"} >= {
        "p00-white.jpg",
        "more/p00-white.jpg",
        "more/x-white.jpg",
    }
    reference = cut_reference(good, tmp_path / "cut", "--method", "threshold", "--export", "white")
    for row in rows:
        if row["status"] == "ok":
            assert (out / row["output"]).read_bytes() == reference[row["input"]]
    csv_rows = (out / plan.MANIFEST_CSV).read_text().splitlines()
    assert len(csv_rows) == 21 and csv_rows[0].startswith("input,output,status,error")

    # again: everything done is skipped, the three bad files are tried (and fail) again
    assert main(args) == 1
    assert "0 done, 3 failed, 17 skipped of 20" in capsys.readouterr().out
    # a result deleted by hand is redone, and only it
    (out / "p03-white.jpg").unlink()
    assert main(args) == 1
    assert "1 done, 3 failed, 16 skipped" in capsys.readouterr().out
    assert (out / "p03-white.jpg").read_bytes() == reference[str(shots / "p03.jpg")]

    # other settings are refused with one line; --overwrite redoes every photo with them
    other = [*args, "--param", "blur=9"]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "blur: 5 -> 9" in err
    assert main([*other, "--overwrite"]) == 1
    assert "17 done, 3 failed, 0 skipped" in capsys.readouterr().out
    assert all(r["settings_hash"] != rows[0]["settings_hash"] for r in read_manifest(out))


@pytest.mark.slow
def test_csv_manifest_with_the_default_network_matches_cut(tmp_path, ray_session):
    from bgapp.core.methods import default_method

    if default_method() != "auto":
        pytest.skip("auto is not the default here")
    shots = tmp_path / "shots"
    good = write_photos(shots, ["a.jpg", "b.jpg", "c.jpg"], size=(256, 192), seed=5)
    manifest = tmp_path / "catalogue.csv"
    manifest.write_text("sku,image\n" + "".join(f"{i},shots/{p.name}\n" for i, p in enumerate(good)))
    out = tmp_path / "out"
    assert main(["batch", str(manifest), "--path-column", "image", "--out", str(out), "--workers", "1"]) == 0
    rows = read_manifest(out)
    assert [(r["output"], r["status"], r["method"]) for r in rows] == [
        (f"shots/{n}.png", "ok", "auto (unet-product + second look)") for n in "abc"
    ]  # the default, and what ran
    reference = cut_reference(good, tmp_path / "cut")
    for row in rows:
        assert (out / row["output"]).read_bytes() == reference[row["input"]]
    alpha = np.asarray(Image.open(out / rows[0]["output"]))[..., 3]
    assert 0 < (alpha > 127).mean() < 1  # a real cut-out, not an empty or full mask
