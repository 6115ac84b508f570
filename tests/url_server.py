"""A loopback HTTP server for URL-download tests and benchmarks/download.py: each path answers as its
`Route` says (status, headers, body, a delay, a body streamed without a length); any other path is
a 404. Routes can be changed while it serves (a server that "recovers"). It logs each request's path,
start and end, and its client as `client_label` names it (a test that tells nodes apart). `in_flight` and
`most_in_flight` count the requests received and not yet answered: what a client's bound on requests in
flight limits.

    with serving({"/a.jpg": Route(body=jpeg)}) as server:
        server.url("/a.jpg")

`python tests/url_server.py PORT ROUTES.json` serves routes from a JSON file in its own process
(benchmarks/download.py; bodies of `{"file": path}` are read from files).
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "image/jpeg"})
    delay: float = 0.0  # seconds before answering
    repeat: int = 1  # the body is sent this many times, streamed with no Content-Length
    fail_first: int = 0  # the first this many requests get a 503


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, routes: dict[str, Route], port: int = 0,
                 client_label: Callable[[tuple[str, int], tuple[str, int]], str] | None = None):
        super().__init__(("127.0.0.1", port), _Handler)
        self.routes = routes
        self.client_label = client_label  # (client, server address) -> label; called while the request is served
        self.log: list[tuple[str, str | None, float, float]] = []  # (path, client label, start, end)
        self.hits: dict[str, int] = {}
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that give up (timeouts, size caps) break the pipe: expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackServer

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        server = self.server
        path = self.path.split("?", 1)[0]
        start = time.monotonic()
        label = server.client_label(self.client_address, server.server_address) if server.client_label else None
        with server.lock:
            server.hits[path] = hits = server.hits.get(path, 0) + 1
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
        route = server.routes.get(path, Route(404, b"not found", {"Content-Type": "text/plain"}))
        if hits <= route.fail_first:
            route = Route(503, b"busy", {"Content-Type": "text/plain"})
        time.sleep(route.delay)
        # no longer in flight once it answers: the client may take the answer, release its slot and send its
        # next request (on another connection) before this thread is back from writing
        with server.lock:
            server.in_flight -= 1
        try:
            self._answer(route)
        finally:
            with server.lock:
                server.log.append((path, label, start, time.monotonic()))

    def _answer(self, route: Route) -> None:
        self.send_response(route.status)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.repeat > 1:
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(route.repeat):
                self.wfile.write(route.body)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        self.wfile.write(route.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serving(routes: dict[str, Route], **options: Any) -> Iterator[LoopbackServer]:
    """`options` go to `LoopbackServer`."""
    server = LoopbackServer(routes, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _route(entry: dict) -> Route:
    if "file" in entry:
        with open(entry["file"], "rb") as handle:
            body = handle.read()
    else:
        body = base64.b64decode(entry.get("body64", ""))
    return Route(entry.get("status", 200), body, entry.get("headers", {"Content-Type": "image/jpeg"}),
                 entry.get("delay", 0.0), entry.get("repeat", 1))


if __name__ == "__main__":
    with open(sys.argv[2]) as handle:
        loaded = {path: _route(entry) for path, entry in json.load(handle).items()}
    LoopbackServer(loaded, int(sys.argv[1])).serve_forever()
