# SPDX-License-Identifier: Apache-2.0
"""A local HTTP server with the routes of the API Gateway, calling the same handler code.

Each request becomes an API Gateway proxy event (method, resource template, path parameters, query
string, body) and goes through `index.handle`, so local answers are the deployed API's answers.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_BODY_BYTES = 1024 * 1024  # API Gateway accepts at most 10 MB; a request body here is a few KB
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024  # past this a refused body is not even read: the connection closes
MAX_LINE_BYTES = 4096  # a chunk-size line
IDLE_SECONDS = 30.0  # a connection silent this long is closed
LISTEN_BACKLOG = 1024  # connections waiting to be accepted (the standard library's 5 resets a burst of callers)


def resource_pattern(resource: str) -> re.Pattern[str]:
    """`/pipelines/{pipeline_name}` -> a regex with one named group per path parameter."""
    parts = re.split(r"(\{[a-z_]+\})", resource)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}/?$")


def match_route(routes: list[tuple[str, str]], method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The resource template and path parameters of the route for (method, path); the path alone if no route."""
    for route_method, resource in routes:
        found = resource_pattern(resource).match(path)
        if found and route_method == method:
            return resource, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


def allowed_methods(routes: list[tuple[str, str]], path: str) -> list[str]:
    """The methods the routes serve at `path` (empty when no route has the path)."""
    return sorted({method for method, resource in routes if resource_pattern(resource).match(path)})


def proxy_event(
    method: str, path: str, query: str, headers: dict[str, str], body: str | None, routes
) -> dict[str, Any]:
    matched = match_route(routes, method, path)
    resource, parameters = matched if matched else (path, {})
    return {
        "httpMethod": method,
        "resource": resource,
        "path": path,
        "pathParameters": parameters or None,
        "queryStringParameters": dict(parse_qsl(query)) or None,
        "headers": headers,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {"stage": "local", "identity": {"sourceIp": "127.0.0.1"}},
    }


class RequestRefused(Exception):
    """A request the server answers itself, before the handler: its status, the problem, and whether to close."""

    def __init__(self, status: int, problem: str, close: bool = True) -> None:
        super().__init__(problem)
        self.status, self.problem, self.close = status, problem, close


def error_body(status: int, problem: str, field: str = "(request)") -> str:
    """The handler's error shape, for answers the server gives itself."""
    summary = "A BadRequest exception occurred" if status == 400 else HTTPStatus(status).phrase
    return json.dumps({"message": summary, "errors": [{"field": field, "message": problem}]})


def make_handler(handle: Callable[[dict[str, Any]], dict[str, Any]], routes: list[tuple[str, str]]):
    class Handler(BaseHTTPRequestHandler):
        server_version = "mlops-local"
        protocol_version = "HTTP/1.1"
        default_request_version = "HTTP/1.0"  # a refusal of an unparsable request line has a status line too
        timeout = IDLE_SECONDS  # a client that stops sending mid-request frees its thread

        def setup(self) -> None:
            super().setup()
            # Each answer is one write; without this, a kept-alive client waits for its delayed ACK (~40 ms).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            try:
                body = self._read_body()
            except RequestRefused as refused:
                self.close_connection = self.close_connection or refused.close
                self._send(refused.status, error_body(refused.status, refused.problem, "(body)"))
                return
            url = urlsplit(self.path)
            allowed = allowed_methods(routes, url.path)
            if allowed and self.command not in allowed:
                problem = f"{self.command} is not a method of {url.path}; allowed: {', '.join(allowed)}"
                self._send(405, error_body(405, problem, "(method)"), {"Allow": ", ".join(allowed)})
                return
            event = proxy_event(self.command, url.path, url.query, dict(self.headers), body, routes)
            response = handle(event)
            self._send(response["statusCode"], response.get("body") or "", response.get("headers") or {})

        def _read_body(self) -> str | None:
            """The request body as text; chunked bodies are read whole. Anything malformed is refused."""
            encoding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
            declared = self.headers.get_all("Content-Length") or []
            if encoding and declared:
                raise RequestRefused(400, "has both Transfer-Encoding and Content-Length; send one of them")
            if encoding == "chunked":
                raw = self._read_chunked()
            elif encoding:
                raise RequestRefused(400, f"uses Transfer-Encoding {encoding}; only chunked is supported")
            else:
                raw = self._read_sized(declared)
            if not raw:
                return None
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise RequestRefused(400, "is not UTF-8 text", close=False) from None

        def _read_sized(self, declared: list[str]) -> bytes:
            if len(set(declared)) > 1:
                raise RequestRefused(400, "has more than one Content-Length")
            text = declared[0].strip() if declared else "0"
            if not text.isascii() or not text.isdigit():
                raise RequestRefused(400, f"has Content-Length '{text}'; it must be a whole number of bytes")
            length = int(text)
            if length > MAX_BODY_BYTES:
                self._drain(length)
                raise RequestRefused(400, f"is {length} bytes; at most {MAX_BODY_BYTES} are accepted")
            raw = self.rfile.read(length) if length else b""
            if len(raw) < length:
                raise RequestRefused(400, f"ended after {len(raw)} of the {length} bytes its Content-Length gives")
            return raw

        def _read_chunked(self) -> bytes:
            chunks: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(MAX_LINE_BYTES + 1)
                text = line.split(b";", 1)[0].strip()
                if len(line) > MAX_LINE_BYTES or not re.fullmatch(rb"[0-9a-fA-F]{1,8}", text):
                    raise RequestRefused(400, "is not valid chunked encoding")
                length = int(text, 16)
                if length == 0:
                    break
                size += length
                if size > MAX_BODY_BYTES:
                    raise RequestRefused(400, f"is more than {MAX_BODY_BYTES} bytes; at most that many are accepted")
                chunk = self.rfile.read(length)
                if len(chunk) < length or self.rfile.readline(MAX_LINE_BYTES + 1).strip():
                    raise RequestRefused(400, "is not valid chunked encoding")
                chunks.append(chunk)
            while self.rfile.readline(MAX_LINE_BYTES + 1).strip():  # trailer fields, ignored
                pass
            return b"".join(chunks)

        def _drain(self, length: int) -> None:
            """Read (and drop) a refused body, so the client sees the answer rather than a broken pipe."""
            remaining = min(length, DRAIN_LIMIT_BYTES)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)

        def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
            payload = body.encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD":
                self._headers_buffer.append(payload)
            self.flush_headers()  # headers and body in one write

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """http.server's own refusals (a bad request line, a header too long) as JSON."""
            self.close_connection = True
            self._send(code, error_body(code, message or HTTPStatus(code).phrase))

        def __getattr__(self, name: str) -> Any:
            # Every method (HEAD, OPTIONS, TRACE, anything) gets an answer from _serve: a route's, or 405/404.
            if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI prints its own lines
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


class LocalApiServer:
    """A threading HTTP server on 127.0.0.1; `start()` serves in a background thread."""

    def __init__(
        self, handle: Callable[[dict[str, Any]], dict[str, Any]], routes: list[tuple[str, str]], port: int = 0
    ):
        self.httpd = _Server(("127.0.0.1", port), make_handler(handle, routes))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="local-api", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
