"""The server's settings, checked once, and carried to uvicorn's worker processes as JSON.

With ``--workers N`` uvicorn starts N fresh processes that import the app by name, so the
settings travel in one environment variable rather than as Python objects.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

ENV_CONFIG = "BGAPP_SERVE_CONFIG"
ENV_API_KEY = "BGAPP_API_KEY"


@dataclass(frozen=True)
class ServeConfig:
    """Everything ``serve`` was told; the defaults are the safe ones (localhost, no URLs)."""

    host: str = "127.0.0.1"
    port: int = 7000
    workers: int = 1
    api_key: str | None = None
    queue: int = 16  # admitted requests per worker process (running + waiting); the rest get 429
    threads: int = 1  # pipeline threads per worker process
    max_upload_mb: float = 25.0
    max_megapixels: float = 50.0
    allow_urls: bool = False
    url_timeout_s: float = 10.0
    method: str | None = None  # the remove.bg endpoint's method; None = the default method
    params: dict[str, Any] = field(default_factory=dict)  # its settings (``--param``)
    read_timeout_s: float = 60.0  # the longest wait for the next piece of a request (headers or body): then 408
    compute_timeout_s: float = 120.0  # the longest a request waits for its cut (queue and pipeline): then 503
    grace_s: int = 10  # on SIGTERM: in-flight requests get this long to finish, then the process exits
    max_points: int = 40  # keep + remove points per /cut request (each costs 0.15-0.23 s of CPU); more: 400
    max_connections: int = 512  # open connections per worker process; more get 503 from uvicorn at once

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def max_body_bytes(self) -> int:
        """The largest request body: the upload limit as base64 (4/3 larger) plus room for the other fields."""
        return self.max_upload_bytes * 4 // 3 + 65_536

    @property
    def body_budget_bytes(self) -> int:
        """Request bytes one worker process holds at a time (bodies being read, waiting and being cut): as much
        as a full queue of the largest bodies, the bound admission gave before bodies were read outside it."""
        return self.queue * self.max_body_bytes

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        return cls(**json.loads(text))

    @classmethod
    def from_env(cls) -> ServeConfig:
        text = os.environ.get(ENV_CONFIG)
        return cls.from_json(text) if text else cls(api_key=os.environ.get(ENV_API_KEY) or None)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses: only this machine can connect."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def config_problem(config: ServeConfig) -> str | None:
    """Why the server must not start with ``config`` (one line), or None."""
    if config.api_key is not None and not config.api_key.strip():
        return "the API key is empty: pass a real one with --api-key or BGAPP_API_KEY"
    if not is_loopback_host(config.host) and not config.api_key:
        return (
            f"refusing to listen on {config.host} without an API key: anyone who can reach it could "
            f"use it; pass --api-key KEY (or set {ENV_API_KEY}), or keep the default --host 127.0.0.1"
        )
    if not 0 <= config.port <= 65535:
        return f"--port {config.port} is not a port number (0-65535)"
    for name, value in (("--workers", config.workers), ("--queue", config.queue), ("--threads", config.threads)):
        if value < 1:
            return f"{name} must be 1 or more, not {value}"
    for name, value in (("--max-points", config.max_points), ("--max-connections", config.max_connections)):
        if value < 1:
            return f"{name} must be 1 or more, not {value}"
    for name, number in (
        ("--max-upload-mb", config.max_upload_mb),
        ("--max-megapixels", config.max_megapixels),
        ("--url-timeout", config.url_timeout_s),
        ("--read-timeout", config.read_timeout_s),
        ("--compute-timeout", config.compute_timeout_s),
        ("--grace", config.grace_s),
    ):
        if not number > 0:
            return f"{name} must be more than 0, not {number:g}"
    return None
