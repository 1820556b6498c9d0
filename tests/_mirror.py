"""A loopback web folder and tiny ONNX stand-ins for the networks fetched over HTTPS (tests/core/
test_external_https.py, the Models page's Fetch button in tests/app/test_app.py)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def stand_in(kind: str, padding: int = 50_000) -> bytes:
    """A tiny ONNX file with the published file's I/O: ``input_image`` float32 1x3x1024x1024 in,
    ``output_image`` float32 1x1x1024x1024 out (BiRefNet: logits; IS-Net: a 0..1-ish map). It answers
    the channel mean (x8 for BiRefNet's logits), so bright is product; ``padding`` zeros (used, summed
    into the answer) make it big enough to cut mid-file."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("ReduceMean", ["input_image"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("ReduceSum", ["padding"], ["zero"], keepdims=0),
        helper.make_node("Mul", ["mean", "gain"], ["scaled"]),
        helper.make_node("Add", ["scaled", "zero"], ["output_image"]),
    ]
    gain = np.array([8.0 if kind == "birefnet" else 1.0], np.float32)
    graph = helper.make_graph(
        nodes,
        f"{kind}-stand-in",
        [helper.make_tensor_value_info("input_image", TensorProto.FLOAT, [1, 3, 1024, 1024])],
        [helper.make_tensor_value_info("output_image", TensorProto.FLOAT, [1, 1, 1024, 1024])],
        [numpy_helper.from_array(np.zeros(padding, np.float32), "padding"), numpy_helper.from_array(gain, "gain")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


class Handler(BaseHTTPRequestHandler):
    """Serves ``server.files`` by name, honours ``Range: bytes=N-`` (unless ``server.ranges`` is off),
    and cuts the connection after ``server.cuts.pop(0)`` bytes of a response while that list lasts."""

    def do_GET(self) -> None:
        server = self.server
        name = self.path.lstrip("/")
        server.seen.append((name, self.headers.get("Range")))
        body = server.files.get(name)
        if body is None:
            self.send_error(404)
            return
        asked = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
        start = int(asked.group(1)) if asked and server.ranges else 0
        if start >= len(body) and start > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        cut = server.cuts.pop(0) if server.cuts else None
        if cut is None:
            self.wfile.write(payload)
            return
        self.wfile.write(payload[:cut])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)  # the rest never comes
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving() -> Iterator[ThreadingHTTPServer]:
    """A threaded loopback server on a free port: ``files`` to serve, ``cuts``, ``seen``, ``ranges``."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.cuts, httpd.seen, httpd.ranges = {}, [], [], True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
