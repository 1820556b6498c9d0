"""The HTTP API's gate and its errors: the ASGI wrapper that checks the API key, admission and body
size before any route reads a body, and remove.bg's error shape for everything a caller caused."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bgapp.core.errors import BgappError, ImageTooLargeError, ModelUnavailableError, ParamError
from bgapp.serve.config import ServeConfig
from bgapp.serve.guard import UrlTooLarge
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


