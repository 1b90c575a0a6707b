# SPDX-License-Identifier: Apache-2.0
"""The local API server answers every request with JSON, promptly: malformed framing, any method, bursts."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.api_server import LocalApiServer

ROUTES = [("POST", "/provisionpipeline"), ("GET", "/pipelines"), ("DELETE", "/pipelines/{pipeline_name}")]


def echo(event: dict[str, Any]) -> dict[str, Any]:
    """Answers with what the handler was given, as the orchestrator's handler answers: JSON."""
    time.sleep(float((event.get("queryStringParameters") or {}).get("sleep", 0)))
    seen = {"method": event["httpMethod"], "resource": event["resource"], "body": event["body"]}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(seen)}


@pytest.fixture
def server() -> Iterator[LocalApiServer]:
    local = LocalApiServer(echo, ROUTES)
    local.start()
    yield local
    local.stop()


def exchange(server: LocalApiServer, raw: bytes, timeout: float = 5.0) -> tuple[int, dict[str, str], Any]:
    """Send raw bytes, read one answer: (status, headers, JSON body)."""
    host, port = server.httpd.server_address[:2]
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(raw)
        return read_answer(connection.makefile("rb"))


def read_answer(stream: Any) -> tuple[int, dict[str, str], Any]:
    status = int(stream.readline().split()[1])
    headers = {}
    while (line := stream.readline().strip()) != b"":
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = stream.read(length) if length else b""
    return status, headers, json.loads(body) if body else None


def post(body: bytes, *headers: str) -> bytes:
    lines = ["POST /provisionpipeline HTTP/1.1", "Host: local", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", " ", "١٢"])
def test_a_content_length_that_is_not_a_byte_count_is_a_400_at_once(server, length):
    started = time.monotonic()
    status, headers, body = exchange(server, post(b"{}", f"Content-Length: {length}"))
    assert status == 400 and headers["content-type"] == "application/json"
    assert body["errors"][0]["field"] == "(body)" and "Content-Length" in body["errors"][0]["message"]
    assert time.monotonic() - started < 2


def test_a_body_shorter_than_its_content_length_is_a_400_once_the_client_stops(server):
    host, port = server.httpd.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(post(b"{}", "Content-Length: 10"))
        connection.shutdown(socket.SHUT_WR)
        status, _, body = read_answer(connection.makefile("rb"))
    assert status == 400 and "of the 10 bytes" in body["errors"][0]["message"]


def test_a_chunked_body_is_read_as_the_body(server):
    chunks = b'7\r\n{"a": 1\r\n1\r\n}\r\n0\r\n\r\n'
    raw = post(chunks, "Transfer-Encoding: chunked") + post(b"", "Content-Length: 0")
    host, port = server.httpd.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(raw)
        stream = connection.makefile("rb")
        first, second = read_answer(stream), read_answer(stream)
    assert first[0] == 200 and first[2]["body"] == '{"a": 1}'
    assert second[0] == 200 and second[2]["body"] is None  # the next request, not the chunks read as one


def test_broken_chunked_encoding_and_mixed_framing_are_400s(server):
    status, _, body = exchange(server, post(b"zz\r\n{}\r\n0\r\n\r\n", "Transfer-Encoding: chunked"))
    assert status == 400 and "chunked" in body["errors"][0]["message"]
    status, _, body = exchange(server, post(b"{}", "Transfer-Encoding: chunked", "Content-Length: 2"))
    assert status == 400 and "both" in body["errors"][0]["message"]
    status, _, body = exchange(server, post(b"{}", "Transfer-Encoding: gzip"))
    assert status == 400 and "gzip" in body["errors"][0]["message"]


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PUT", "PATCH", "BREW"])
def test_a_method_the_path_does_not_serve_is_a_json_405_naming_the_allowed_ones(server, method):
    status, headers, body = exchange(server, f"{method} /pipelines HTTP/1.1\r\nHost: local\r\n\r\n".encode())
    assert status == 405 and headers["allow"] == "GET" and headers["content-type"] == "application/json"
    assert body["errors"][0]["field"] == "(method)" and "allowed: GET" in body["errors"][0]["message"]


def test_head_is_answered_with_headers_only(server):
    host, port = server.httpd.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(b"HEAD /pipelines HTTP/1.1\r\nHost: local\r\n\r\nGET /pipelines HTTP/1.1\r\nHost: l\r\n\r\n")
        stream = connection.makefile("rb")
        assert stream.readline().split()[1] == b"405"
        while stream.readline().strip():
            pass
        status, _, body = read_answer(stream)  # the next answer starts right after the headers: no body was sent
    assert status == 200 and body["method"] == "GET"


def test_a_malformed_request_line_is_a_json_400(server):
    status, headers, body = exchange(server, b"GET /pipelines HTTP/9\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/json" and body["errors"]


def test_a_kept_alive_connection_is_answered_without_a_delayed_ack_wait(server):
    host, port = server.httpd.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as connection:
        stream = connection.makefile("rb")
        timings = []
        for _ in range(10):
            started = time.perf_counter()
            connection.sendall(b"GET /pipelines HTTP/1.1\r\nHost: local\r\n\r\n")
            assert read_answer(stream)[0] == 200
            timings.append(time.perf_counter() - started)
    assert sorted(timings)[5] < 0.02  # the median; 40 ms when headers and body go in two writes


def test_a_burst_of_callers_is_answered_every_one(server):
    """Connections arriving faster than they are accepted wait in the backlog instead of being reset."""
    answers: list[Any] = []

    def caller() -> None:
        try:
            answers.append(exchange(server, b"GET /pipelines?sleep=0.05 HTTP/1.1\r\nHost: l\r\n\r\n", timeout=30)[0])
        except OSError as error:
            answers.append(error)

    assert server.httpd.request_queue_size >= 128
    callers = [threading.Thread(target=caller) for _ in range(64)]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join(60)
    assert answers == [200] * 64
