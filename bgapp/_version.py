"""The one version of bgapp: ``pyproject.toml``'s ``version``, read at run time, never written twice.

A checkout (``pyproject.toml`` beside the package, as in this repository) reads the file itself, so a
raised version shows at once, without reinstalling (an editable install's metadata keeps the number
it was installed with). An installed wheel has no ``pyproject.toml`` there and reads its metadata.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

UNKNOWN = "0+unknown"  # neither a checkout nor installed (a copied folder): say so rather than guess
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def checkout_version(pyproject: Path | None = None) -> str | None:
    """The version in ``pyproject`` (default: the one beside the package) when it is bgapp's own, else None
    (another project's file, a broken one, or none: bgapp installed into site-packages)."""
    try:
        project = tomllib.loads((pyproject or PYPROJECT).read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return str(project["version"]) if project.get("name") == "bgapp" and "version" in project else None


def installed_version() -> str | None:
    """The version pip recorded for the installed distribution, or None when bgapp is not installed."""
    try:
        return metadata.version("bgapp")
    except metadata.PackageNotFoundError:
        return None


def version() -> str:
    """bgapp's version: the checkout's ``pyproject.toml`` first, then the installed metadata."""
    return checkout_version() or installed_version() or UNKNOWN


__version__ = version()
