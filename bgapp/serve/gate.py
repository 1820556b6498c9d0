"""The HTTP API's gate and its errors: the ASGI wrapper that checks the API key and the body size
before any route reads a body, reads the body under a deadline and a byte budget, admits only a
request whose body is complete, and watches for its client leaving; and remove.bg's error shape for
everything a caller caused."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bgapp.core.errors import BgappError, ImageTooLargeError, ModelUnavailableError, ParamError
from bgapp.serve.config import ServeConfig
from bgapp.serve.guard import UrlTooLarge
from bgapp.serve.limits import Admission, ByteBudget, Reservation, Slot
from bgapp.serve.work import ClientGone, JobTimeout

GATED_PATHS = ("/v1.0/removebg", "/cut")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ApiError(Exception):
    """A request the server refuses: HTTP status, a machine code, a one-line title and extra headers."""

    def __init__(self, status: int, code: str, title: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(title)
        self.status, self.code, self.title, self.headers = status, code, title, headers or []


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
    if isinstance(error, JobTimeout):
        return ApiError(
            503, "timeout", f"{error}: retry later, or send a smaller photo or fewer points", [(b"retry-after", b"5")]
        )
    return ApiError(500, "internal_error", f"unexpected failure ({type(error).__name__}); see the server's log")


# ---------------------------------------------------------------- the gate


class Gate:
    """ASGI wrapper: API key, body size, read deadline, byte budget and admission, checked before the
    routes see a request; the routes find ``request.state.client_gone``, set when the client disconnects."""

    def __init__(self, app: Any, config: ServeConfig, admission: Admission, budget: ByteBudget):
        self.app, self.config, self.admission, self.budget = app, config, admission, budget

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in GATED_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        refusal = key_refusal(self.config.api_key, headers.get("x-api-key"))
        if refusal:
            await self.refuse(receive, send, headers, 403, "auth_failed", refusal)
            return
        limit = self.config.max_body_bytes
        declared = headers.get("content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self.refuse(receive, send, headers, 413, "file_too_large", _too_large(int(declared), limit))
            return
        if self.admission.held >= self.admission.limit:  # full already: say so before the upload, not after
            await self.refuse(
                receive,
                send,
                headers,
                429,
                "rate_limit_exceeded",
                _busy(self.admission.limit),
                [(b"retry-after", b"1")],
            )
            return
        held = Reservation(self.budget)
        slot: Slot | None = None
        gone = asyncio.Event()
        watcher: asyncio.Task[None] | None = None
        started = False
        try:
            body = await self.read_or_answer(receive, send, held)
            if body is None:
                return
            if not self.admission.try_enter():
                await send_error(
                    send, 429, "rate_limit_exceeded", _busy(self.admission.limit), [(b"retry-after", b"1")], close=False
                )
                return
            slot = Slot(self.admission)
            watcher = asyncio.ensure_future(watch_disconnect(receive, gone))
            scope.setdefault("state", {})["client_gone"] = gone
            taken = slot

            async def release_on_start(message: dict[str, Any]) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                    taken.release()  # before the answer leaves: a client that got it may send again at once
                await send(message)

            await self.app(scope, replay(body, receive), release_on_start)
        except asyncio.CancelledError:
            # uvicorn cancels a request only when its graceful-shutdown time (--grace) is up. The client gets
            # a 503 rather than a dropped connection, and the request ends here: re-raised, uvicorn logs a
            # traceback and tries a 500 of its own. The process exits next, so nothing waits on this task.
            if not started:
                await send_error(
                    send, 503, "shutting_down", "the server is shutting down; retry shortly", [(b"retry-after", b"1")]
                )
        finally:
            if watcher is not None:
                watcher.cancel()
            if slot is not None:
                slot.release()
            held.release()

    async def read_or_answer(self, receive: Receive, send: Send, held: Reservation) -> bytes | None:
        """The whole body (``read_body``), or None once the request is answered (408, 413, 429) or its
        client has gone (an incomplete body is never run: nobody is there to answer)."""
        try:
            return await read_body(receive, self.config.max_body_bytes, self.config.read_timeout_s, held)
        except ClientGone:
            return None
        except ApiError as error:
            held.release()  # what was read is dropped before the rest is drained
            drained = error.status != 408 and await drain(
                receive, DRAIN_FACTOR * self.config.max_body_bytes, self.config.read_timeout_s
            )
            await send_error(send, error.status, error.code, error.title, error.headers, close=not drained)
            return None

    async def refuse(
        self,
        receive: Receive,
        send: Send,
        headers: Mapping[str, bytes],
        status: int,
        code: str,
        title: str,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
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
        return await drain(receive, cap, self.config.read_timeout_s)


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


async def next_message(receive: Receive, timeout_s: float) -> dict[str, Any]:
    """The next ASGI message, or ``ApiError`` 408 when none comes within ``timeout_s`` (as nginx's
    ``client_body_timeout``: the limit is on the gap between two reads, so a slow upload that keeps
    moving is never cut off, and a stalled one ends)."""
    try:
        return await asyncio.wait_for(receive(), timeout_s)
    except TimeoutError:
        raise ApiError(
            408,
            "request_timeout",
            f"the request body stalled: nothing arrived for {timeout_s:g} s; send the whole request without pausing",
        ) from None


async def read_body(receive: Receive, limit: int, timeout_s: float, held: Reservation) -> bytes:
    """The whole request body, each piece within ``timeout_s`` of the last and held in the byte budget.
    ``ClientGone`` if the client left before its end (a body cut short is never processed), else
    ``ApiError``: 408 stalled, 413 over ``limit`` (nothing more is read), 429 over the budget."""
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await next_message(receive, timeout_s)
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise ApiError(413, "file_too_large", _too_large(None, limit))
        if not held.take(len(chunk)):
            raise ApiError(
                429,
                "rate_limit_exceeded",
                "the server is busy (its memory for uploads is in use); retry shortly",
                [(b"retry-after", b"1")],
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def drain(receive: Receive, limit: int, timeout_s: float) -> bool:
    """Read and drop the request body; True if it ended within ``limit`` bytes and no gap of ``timeout_s``."""
    total = 0
    while True:
        try:
            message = await next_message(receive, timeout_s)
        except ApiError:
            return False
        if message["type"] == "http.disconnect":
            return False
        total += len(message.get("body", b""))
        if total > limit:
            return False
        if not message.get("more_body", False):
            return True


async def watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    """Set ``gone`` when the client disconnects (the body is read: the next message is the disconnect)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


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


async def send_error(
    send: Send, status: int, code: str, title: str, extra: list[tuple[bytes, bytes]] | None = None, close: bool = True
) -> None:
    """remove.bg's error shape as the whole answer; ``close`` when unread request bytes may follow."""
    body = error_body(code, title)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *([(b"connection", b"close")] if close else []),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _busy(limit: int) -> str:
    return f"the server is busy ({limit} requests waiting or in progress); retry shortly"


def _too_large(size: int | None, limit: int) -> str:
    sent = f"{size / 1e6:.1f} MB" if size else "the request"
    return f"{sent} is over this server's {limit / 1e6:.1f} MB request limit"
