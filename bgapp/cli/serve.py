"""``serve``: the HTTP API (remove.bg-compatible ``/v1.0/removebg`` and bgapp's ``/cut``) on uvicorn.

FastAPI and uvicorn are imported only when this command runs, so every other command (and the
core) starts without them.
"""

from __future__ import annotations

import argparse
import copy
import os
import socket
import sys
from typing import Any

from bgapp.core.errors import BgappError
from bgapp.core.params import parse_assignments


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "serve",
        help="HTTP API: remove.bg-compatible POST /v1.0/removebg, POST /cut, GET /methods",
        description="Serve the pipeline over HTTP: POST /v1.0/removebg (remove.bg's fields and errors), "
        "POST /cut (bgapp's methods, settings and exports), GET /methods, GET /health and "
        "the OpenAPI page at /docs. Listens on 127.0.0.1 unless told otherwise; any other "
        "address needs an API key.",
        epilog="examples:\n  python -m bgapp serve                                  # http://127.0.0.1:7000/docs\n"
        "  BGAPP_API_KEY=... python -m bgapp serve --host 0.0.0.0 --workers 2\n"
        "  curl -H 'X-Api-Key: KEY' -F image_file=@photo.jpg -F size=auto -o out.png "
        "http://127.0.0.1:7000/v1.0/removebg",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=7000, help="port (default 7000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1; about one per 1-2 cores). Each holds its own copy of "
        "the method: ~240 MB with unet-product, ~1.2 GB with --method u2net",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("BGAPP_API_KEY") or None,
        metavar="KEY",
        help="require this key in the X-Api-Key header (default: $BGAPP_API_KEY; "
        "required for any address but localhost). A key given here shows in the process "
        "list (ps) to every user of the machine: set BGAPP_API_KEY instead",
    )
    parser.add_argument(
        "--queue",
        type=int,
        default=16,
        metavar="N",
        help="requests admitted per worker, running or waiting; more get 429 (default 16)",
    )
    parser.add_argument("--threads", type=int, default=1, metavar="N", help="photos cut at once per worker (default 1)")
    parser.add_argument(
        "--max-upload-mb", type=float, default=25.0, metavar="MB", help="largest upload (default 25); larger gets 413"
    )
    parser.add_argument(
        "--max-megapixels", type=float, default=50.0, metavar="MP", help="largest photo (default 50); larger gets 413"
    )
    parser.add_argument(
        "--allow-urls",
        action="store_true",
        help="let callers send image_url (public http(s) addresses only; off by default)",
    )
    parser.add_argument(
        "--url-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="time limit for fetching one image_url (default 10 s)",
    )
    parser.add_argument(
        "--method", default=None, help="method of /v1.0/removebg and /cut's default (default unet-product, or grabcut)"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of that method or the shared steps, repeatable",
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="longest pause while a request arrives (headers, then between pieces of the body); "
        "then 408 and the connection closed (default 60, as nginx)",
    )
    parser.add_argument(
        "--compute-timeout",
        type=float,
        default=120.0,
        metavar="S",
        help="longest a request waits for its cut, queue included; then 503 (default 120)",
    )
    parser.add_argument(
        "--grace",
        type=int,
        default=10,
        metavar="S",
        help="on SIGTERM or Ctrl-C, time for requests in flight to finish before the process "
        "exits anyway (default 10; keep it under your process manager's stop timeout)",
    )
    parser.add_argument(
        "--max-points",
        type=int,
        default=40,
        metavar="N",
        help="keep + remove points per /cut request; more get 400 (default 40)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=512,
        metavar="N",
        help="open connections per worker; more get 503 at once (default 512)",
    )
    parser.add_argument("--access-log", action="store_true", help="print one line per request (to stdout)")
    parser.set_defaults(handler=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    from bgapp.core.methods import default_method
    from bgapp.core.pipeline import resolve_settings
    from bgapp.serve.config import ENV_CONFIG, ServeConfig, config_problem

    config = ServeConfig(
        host=args.host,
        port=args.port,
        workers=args.workers,
        api_key=args.api_key,
        queue=args.queue,
        threads=args.threads,
        max_upload_mb=args.max_upload_mb,
        max_megapixels=args.max_megapixels,
        allow_urls=args.allow_urls,
        url_timeout_s=args.url_timeout,
        method=args.method,
        params=parse_assignments(args.param),
        read_timeout_s=args.read_timeout,
        compute_timeout_s=args.compute_timeout,
        grace_s=args.grace,
        max_points=args.max_points,
        max_connections=args.max_connections,
    )
    problem = config_problem(config)
    if problem:
        raise BgappError(problem)
    settings = resolve_settings(config.method or default_method(), config.params)
    missing = settings.method.available()
    if missing:
        raise BgappError(f"{settings.method.name} cannot run here: {missing}")
    try:
        import fastapi  # noqa: F401 - checked here so a missing install is one line, not a traceback
        import uvicorn
    except ImportError as error:
        raise BgappError(
            f"serve needs FastAPI and uvicorn ({error.name} is missing): pip install -r requirements.txt"
        ) from None
    check_port_free(config.host, config.port)
    os.environ[ENV_CONFIG] = config.to_json()  # uvicorn's worker processes read it (bgapp.serve.app.app_from_env)
    shown = f"[{config.host}]" if ":" in config.host else config.host
    print(
        f"bgapp serve: http://{shown}:{config.port}/v1.0/removebg and /cut (docs at /docs); method "
        f"{settings.method.name}; {config.workers} worker(s), queue {config.queue} each; "
        f"API key {'required' if config.api_key else 'not required (localhost only)'}; "
        f"image_url {'on' if config.allow_urls else 'off'}",
        file=sys.stderr,
        flush=True,
    )
    from bgapp.serve.protocol import PROTOCOL

    uvicorn.run(
        "bgapp.serve.app:app_from_env",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers,
        http=PROTOCOL,
        log_config=log_config(args.access_log),
        log_level=None,
        access_log=args.access_log,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=config.grace_s,
        limit_concurrency=config.max_connections,
    )
    return 0


def log_config(access_log: bool) -> dict[str, Any]:
    """uvicorn's logging with its own messages at warning and, when asked for, its access log at info.
    ``log_level="warning"`` set both loggers, so ``--access-log`` printed nothing (issue 38)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["uvicorn"]["level"] = config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO" if access_log else "WARNING"
    return config


def check_port_free(host: str, port: int) -> None:
    """One line instead of uvicorn's log and traceback when the address is taken or not ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        raise BgappError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
