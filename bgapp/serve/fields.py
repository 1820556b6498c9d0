"""From an HTTP request to the pipeline: the photo (multipart, base64 or a guarded URL), JSON and
text fields, the size cap, the run itself and the headers of its answer."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from bgapp.core.export import Export
from bgapp.core.images import LoadedImage, load_image, resize_longer_side, resize_mask
from bgapp.core.marks import Marks, marks_from_arguments
from bgapp.core.pipeline import Result, Settings, process
from bgapp.serve import removebg
from bgapp.serve.config import ServeConfig
from bgapp.serve.gate import ApiError
from bgapp.serve.guard import fetch_url

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
        payload = parse_json(await request.body(), "the JSON body")
        if not isinstance(payload, dict):
            raise ApiError(400, "invalid_parameters", "the JSON body must be an object of fields")
        return payload, None
    if content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise ApiError(
            400, "invalid_parameters", "send multipart/form-data (with image_file), a urlencoded form or a JSON object"
        )
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
        raise ApiError(
            400,
            "missing_source" if not given else "invalid_parameters",
            f"send exactly one of image_file, image_file_b64 or image_url (got {which})",
        )
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
            raise ApiError(
                400,
                "invalid_parameters",
                "image_url is switched off on this server (start it with --allow-urls); upload the file",
            )
        url = str(fields["image_url"])
        data = await asyncio.to_thread(fetch_url, url, limit, config.url_timeout_s)
        name = PurePath(url.split("?", 1)[0]).name or "image_url"
    if len(data) > limit:
        raise ApiError(
            413, "file_too_large", f"{name}: {len(data) / 1e6:.1f} MB is over the {limit / 1e6:g} MB upload limit"
        )
    return Photo(data, name)


def shrink(image: LoadedImage, max_megapixels: float | None) -> LoadedImage:
    """The photo brought within ``max_megapixels`` (remove.bg's ``size``); its own alpha follows."""
    longer = removebg.longer_side_for(max_megapixels, *image.size)
    if longer is None:
        return image
    rgb = resize_longer_side(image.rgb, longer)
    alpha = None if image.alpha is None else resize_mask(image.alpha, rgb.shape[:2])
    return LoadedImage(rgb=rgb, alpha=alpha, name=image.name, mode=image.mode)


def run_pipeline(
    photo: Photo,
    settings: Settings,
    export: Export | Mapping[str, Any],
    mask: bool,
    max_megapixels: float,
    cap_megapixels: float | None = None,
    marks: Marks | None = None,
    corrector: str | None = None,
) -> Result:
    """Load, size and cut one photo: the same ``pipeline.process`` as ``cut`` and the studio."""
    image = shrink(load_image(photo.data, name=photo.name, max_megapixels=max_megapixels), cap_megapixels)
    return process(image, settings, export, mask, marks, corrector)


def json_object(value: Any, name: str) -> dict[str, Any]:
    """A JSON object field (``settings``, ``framing``): a dict from a JSON body, or its text from a form."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        value = parse_json(value, name, ' (send an object like {"k": 4})')
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_parameters", f"{name} must be a JSON object of name: value")
    return value


MAX_JSON_DEPTH = 16
"""Nesting allowed in a JSON body or field: bgapp's deepest is 2 (a body's ``settings`` object). A body
nested a few thousand levels deep raised RecursionError in the parser: a 500 (issue 38)."""
MAX_MARK_CHARS = 64  # "12345.678,12345.678" is 19: room for spaces and digits, not for a megabyte echoed back


def parse_json(text: str | bytes, name: str, hint: str = "") -> Any:
    """``text`` parsed, nested at most ``MAX_JSON_DEPTH`` levels; else a one-line 400 naming ``name``."""
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_parameters", f"{name} is not valid JSON{hint}") from None
    except RecursionError:
        value = None  # deeper than the parser's stack: over any depth limit
    else:
        if json_depth(value) <= MAX_JSON_DEPTH:
            return value
    raise ApiError(400, "invalid_parameters", f"{name} is nested more than {MAX_JSON_DEPTH} levels deep")


def json_depth(value: Any) -> int:
    """How many arrays and objects deep ``value`` goes (0 for a number or a string); no recursion."""
    deepest = 0
    todo: list[tuple[Any, int]] = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            todo.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            todo.extend((child, depth + 1) for child in item)
        else:
            deepest = max(deepest, depth)
            continue
        deepest = max(deepest, depth + 1)
    return deepest


def marks_from_fields(texts: Mapping[str, str], max_points: int) -> Marks:
    """``/cut``'s keep, remove and box fields as marks, counted before any is parsed: each point costs
    0.15-0.23 s of CPU, and 20,000 of them ran for over 10 minutes (issue 38), so more than
    ``max_points`` (keep and remove together) or more than one box is a 400 at once."""
    points = {kind: [p for p in texts.get(kind, "").split(";") if p.strip()] for kind in ("keep", "remove")}
    count = len(points["keep"]) + len(points["remove"])
    if count > max_points:
        raise ApiError(
            400, "invalid_parameters", f"{count} keep/remove points: this server takes at most {max_points} per request"
        )
    longest = max((len(p) for p in (*points["keep"], *points["remove"])), default=0)
    box = texts.get("box", "").strip()
    if longest > MAX_MARK_CHARS or len(box) > 4 * MAX_MARK_CHARS:
        raise ApiError(
            400,
            "invalid_parameters",
            "a keep/remove point or the box is too long: send X,Y and X0,Y0,X1,Y1 in photo pixels",
        )
    if ";" in box:
        raise ApiError(400, "invalid_parameters", "one box per request: X0,Y0,X1,Y1 in photo pixels")
    return marks_from_arguments(points["keep"], points["remove"], box or None)


def text_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    """Form-like text of every field (a JSON body may send true or 10 where a form sends "true", "10")."""
    return {k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in fields.items()}


def result_headers(result: Result, extra: Mapping[str, str]) -> dict[str, str]:
    height, width = result.pixels.shape[:2]
    # X-Method: what ran on this photo (auto names the networks and steps), whatever route answered
    return {
        "X-Width": str(width),
        "X-Height": str(height),
        **extra,
        "X-Method": result.ran or extra.get("X-Method", ""),
    }
