# SPDX-License-Identifier: Apache-2.0
"""The inference API's Lambda: body parsing, real-time and asynchronous calls, the endpoint's errors."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.sagemakerruntime.models import sagemakerruntime_backends

from lambdas.blueprints import inference

from .conftest import ACCOUNT, REGION


@pytest.fixture
def endpoint(aws, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SAGEMAKER_ENDPOINT_NAME", "churn-endpoint")
    monkeypatch.delenv("ASYNC_INPUT_LOCATION", raising=False)
    return "churn-endpoint"


def _queue(body: str, content_type: str = "text/csv") -> None:
    sagemakerruntime_backends[ACCOUNT][REGION].results_queue.append((body, content_type, "AllTraffic", ""))


def test_realtime_answers_the_model_output_as_it_came(endpoint):
    _queue("0.93\n")
    answer = inference.handler({"body": json.dumps({"payload": "1,2,3", "content_type": "text/csv"})}, None)
    assert answer["statusCode"] == 200
    assert answer["body"] == "0.93\n"
    assert answer["headers"]["Content-Type"] == "text/csv"


def test_a_json_payload_is_sent_as_json_text(endpoint, monkeypatch: pytest.MonkeyPatch):
    sent = {}

    def fake_invoke(endpoint_name: str, payload: bytes, content_type: str):
        sent.update(endpoint=endpoint_name, payload=payload, content_type=content_type)
        return {"statusCode": 200, "body": "ok"}

    monkeypatch.setattr(inference, "invoke", fake_invoke)
    inference.handler({"body": json.dumps({"payload": {"rows": [[1, 2]]}, "content_type": "application/json"})}, None)
    assert sent == {"endpoint": "churn-endpoint", "payload": b'{"rows": [[1, 2]]}', "content_type": "application/json"}


def test_content_type_defaults_to_csv():
    payload, content_type = inference.parse_body({"body": json.dumps({"payload": "1,2"})})
    assert (payload, content_type) == (b"1,2", "text/csv")


def test_base64_bodies_are_decoded():
    import base64

    body = base64.b64encode(json.dumps({"payload": "4,5"}).encode()).decode()
    assert inference.parse_body({"body": body, "isBase64Encoded": True}) == (b"4,5", "text/csv")


@pytest.mark.parametrize(
    "event, reason",
    [
        ({}, "needs a JSON body"),
        ({"body": "not json"}, "not JSON"),
        ({"body": json.dumps(["payload"])}, 'with a "payload"'),
        ({"body": json.dumps({"content_type": "text/csv"})}, 'with a "payload"'),
        ({"body": json.dumps({"payload": "1", "content_type": 7})}, "must be a string"),
    ],
)
def test_bad_requests_are_400s_that_say_why(endpoint, event, reason):
    answer = inference.handler(event, None)
    assert answer["statusCode"] == 400
    assert reason in json.loads(answer["body"])["message"]


def test_the_endpoints_own_error_reaches_the_caller(endpoint, monkeypatch: pytest.MonkeyPatch):
    def failing(*_args):
        raise ClientError(
            {
                "Error": {"Code": "ModelError", "Message": "Received client error (400) from model"},
                "ResponseMetadata": {"HTTPStatusCode": 424},
            },
            "InvokeEndpoint",
        )

    monkeypatch.setattr(inference, "invoke", failing)
    answer = inference.handler({"body": json.dumps({"payload": "1"})}, None)
    assert answer["statusCode"] == 424
    assert json.loads(answer["body"])["message"] == "ModelError: Received client error (400) from model"


def test_async_stages_the_request_in_s3_and_answers_202(endpoint, monkeypatch: pytest.MonkeyPatch):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="async-bucket")
    monkeypatch.setenv("ASYNC_INPUT_LOCATION", "async-bucket/results/requests")
    answer = inference.handler({"body": json.dumps({"payload": "7,8,9"})}, None)
    assert answer["statusCode"] == 202
    body = json.loads(answer["body"])
    assert body["input_location"].startswith("s3://async-bucket/results/requests/")
    assert body["output_location"]
    key = body["input_location"].removeprefix("s3://async-bucket/")
    staged = s3.get_object(Bucket="async-bucket", Key=key)
    assert staged["Body"].read() == b"7,8,9"
    assert staged["ContentType"] == "text/csv"
