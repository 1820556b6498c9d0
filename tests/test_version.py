"""One version, in pyproject.toml: what ``bgapp --version``, ``bgapp.__version__`` and the changelog say."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import bgapp
from bgapp import _version
from bgapp.cli import main

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_version_flag_prints_pyprojects_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"bgapp {PYPROJECT_VERSION}"
    assert bgapp.__version__ == PYPROJECT_VERSION


def test_checkout_version_reads_only_bgapps_own_file(tmp_path: Path) -> None:
    other = tmp_path / "pyproject.toml"
    other.write_text('[project]\nname = "someone-else"\nversion = "9.9.9"\n')
    assert _version.checkout_version(other) is None
    other.write_text("[project\nname = ")  # broken TOML: no version rather than a crash at import
    assert _version.checkout_version(other) is None
    assert _version.checkout_version(tmp_path / "missing.toml") is None
    other.write_text('[project]\nname = "bgapp"\nversion = "1.2.3"\n')
    assert _version.checkout_version(other) == "1.2.3"


def test_without_a_checkout_the_installed_metadata_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_version, "PYPROJECT", tmp_path / "pyproject.toml")  # as in site-packages: no file beside
    monkeypatch.setattr(_version, "installed_version", lambda: "4.5.6")
    assert _version.version() == "4.5.6"
    monkeypatch.setattr(_version, "installed_version", lambda: None)
    assert _version.version() == _version.UNKNOWN


def test_changelog_has_an_entry_for_this_version() -> None:
    """Raising the version and saying what changed go together (Keep a Changelog headings)."""
    headings = re.findall(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(), flags=re.MULTILINE)
    assert PYPROJECT_VERSION in headings
    assert headings == sorted(headings, key=lambda v: tuple(int(p) for p in v.split(".")), reverse=True)
