# SPDX-License-Identifier: Apache-2.0
"""A local HTTP server with the routes of the API Gateway, calling the same handler code.

Each request becomes an API Gateway proxy event (method, resource template, path parameters, query
string, body) and goes through `index.handle`, so local answers are the deployed API's answers.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_BODY_BYTES = 1024 * 1024  # API Gateway accepts at most 10 MB; a request body here is a few KB
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024  # past this a refused body is not even read: the connection closes


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


def make_handler(handle: Callable[[dict[str, Any]], dict[str, Any]], routes: list[tuple[str, str]]):
    class Handler(BaseHTTPRequestHandler):
        server_version = "mlops-local"
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._drain(length)
                self._bad_request(f"is {length} bytes; at most {MAX_BODY_BYTES} are accepted")
                self.close_connection = True
                return
            raw = self.rfile.read(length) if length else b""
            try:
                body = raw.decode("utf-8") if raw else None
            except UnicodeDecodeError:
                self._bad_request("is not UTF-8 text")
                return
            event = proxy_event(self.command, url.path, url.query, dict(self.headers), body, routes)
            response = handle(event)
            self._send(response["statusCode"], response.get("body") or "", response.get("headers") or {})

        def _drain(self, length: int) -> None:
            """Read (and drop) a refused body, so the client sees the answer rather than a broken pipe."""
            remaining = min(length, DRAIN_LIMIT_BYTES)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)

        def _bad_request(self, problem: str) -> None:
            # Refused before the handler: the same body shape as the handler's own 400s.
            body = {"message": "A BadRequest exception occurred", "errors": [{"field": "(body)", "message": problem}]}
            self._send(400, json.dumps(body), {"Content-Type": "application/json"})

        def _send(self, status: int, body: str, headers: dict[str, str]) -> None:
            payload = body.encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI prints its own lines
            pass

    return Handler


class LocalApiServer:
    """ThreadingHTTPServer on 127.0.0.1; `start()` serves in a background thread."""

    def __init__(
        self, handle: Callable[[dict[str, Any]], dict[str, Any]], routes: list[tuple[str, str]], port: int = 0
    ):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(handle, routes))
        self.httpd.daemon_threads = True
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
