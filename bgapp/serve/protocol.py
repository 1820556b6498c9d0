"""uvicorn's HTTP/1.1 protocol (h11) with a deadline on a request's line and headers.

uvicorn closes an idle connection after its keep-alive timeout, but once a client has sent one byte
of a request it waits for the rest of the headers without limit, and a connection that sends
``POST / HTTP/1.1\r\nHost: x\r\n`` and stops stays open for ever. Here the request line and headers
must be complete within ``read_timeout_s`` of the connection opening (or of the previous answer on
a kept-alive connection), else the server answers 408 and closes, as nginx's
``client_header_timeout`` (a connection that sent nothing at all is closed without an answer, as an
idle keep-alive one is); the body has its own deadline per read in the gate (``gate.read_body``).
The server names this class explicitly, so uvicorn never swaps in httptools where it is installed.
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from bgapp.serve.config import ServeConfig
from bgapp.serve.gate import error_body

PROTOCOL = "bgapp.serve.protocol:DeadlineH11Protocol"
"""What ``uvicorn.run(http=...)`` is given: a name, so each worker process imports it."""


@cache
def header_timeout_s() -> float:
    """The read deadline of this worker process's settings (``BGAPP_SERVE_CONFIG``)."""
    return ServeConfig.from_env().read_timeout_s


def timeout_answer(seconds: float) -> bytes:
    """The whole 408 answer, written by hand: no request was parsed, so h11 cannot send a response."""
    body = error_body("request_timeout", f"the request headers did not arrive within {seconds:g} s")
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


class DeadlineH11Protocol(H11Protocol):
    """``H11Protocol`` plus the header deadline: a timer armed when a connection opens and after each
    answer, disarmed by the next request's headers (a new cycle), fired as 408 and a close (only the close
    when nothing of a request came)."""

    _header_timer: asyncio.TimerHandle | None = None
    _header_bytes = False  # part of a request arrived since the timer was armed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        waiting = self.cycle
        self._header_bytes = True
        super().data_received(data)
        if self.cycle is not waiting:  # the headers of a new request arrived
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()
        if self.cycle is not None and not self.cycle.response_complete:  # a pipelined request started
            self._disarm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_bytes = False
        seconds = header_timeout_s()
        self._header_timer = self.loop.call_later(seconds, self._headers_timed_out, self.cycle, seconds)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self, cycle: Any, seconds: float) -> None:
        self._header_timer = None
        if self.cycle is cycle and not self.transport.is_closing():
            if self._header_bytes:
                self.transport.write(timeout_answer(seconds))
            self.transport.close()
