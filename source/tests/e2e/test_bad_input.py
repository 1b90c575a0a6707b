# SPDX-License-Identifier: Apache-2.0
"""Bad input over HTTP in local mode is a 400 that leaves nothing behind, and the server keeps serving."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import boto3
import pytest

from local.session import LocalOrchestrator


@pytest.fixture(scope="module")
def local_api(tmp_path_factory):
    # Without the examples' inputs: the assets bucket starts empty, so anything a request left would show.
    templates = tmp_path_factory.mktemp("no-templates")
    with LocalOrchestrator(templates=templates, seed_examples=False) as orchestrator:
        yield orchestrator


def raw_post(url: str, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("POST", path, body=body, headers={"Content-Type": content_type})
    response = connection.getresponse()
    status, payload = response.status, response.read()
    connection.close()
    assert response.getheader("Content-Type") == "application/json"
    return status, json.loads(payload)


@pytest.mark.parametrize(
    ("body", "field_or_text"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "body is empty"),
        (b'"just a string"', "JSON object"),
        (b"[1, 2, 3]", "JSON object"),
        (b"null", "JSON object"),
        (b"\xff\xfe", "UTF-8"),
        (
            json.dumps({"pipeline_type": "byom_realtime_builtin", "model_name": 5, "inference_instance": []}).encode(),
            "model_name",
        ),
        (json.dumps({"pipeline_type": ["byom_realtime_builtin"]}).encode(), "pipeline_type"),
    ],
)
def test_bad_bodies_are_400s(local_api, body, field_or_text):
    status, answer = raw_post(local_api.server.url, "/provisionpipeline", body)
    assert status == 400 and answer["message"] == "A BadRequest exception occurred"
    assert field_or_text in json.dumps(answer)


def test_huge_body_is_refused(local_api):
    huge = json.dumps({"pipeline_type": "byom_realtime_builtin", "model_name": "x" * (2 * 1024 * 1024)}).encode()
    status, answer = raw_post(local_api.server.url, "/provisionpipeline", huge)
    assert status == 400 and "at most" in answer["errors"][0]["message"]


def test_nothing_was_created_and_the_server_still_serves(local_api):
    for _ in range(3):
        raw_post(local_api.server.url, "/provisionpipeline", b"{oops")
    endpoint = local_api.emulator.endpoint
    assert boto3.client("cloudformation", endpoint_url=endpoint).describe_stacks()["Stacks"] == []
    assets = local_api.service.settings.assets_bucket
    assert "Contents" not in boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=assets)
    status, _ = raw_post(
        local_api.server.url, "/pipelinestatus", json.dumps({"pipeline_id": "mlops-pipeline-x"}).encode()
    )
    assert status == 404


def test_unknown_route_is_404(local_api):
    status, _ = raw_post(local_api.server.url, "/nothing-here", b"{}")
    assert status == 404
