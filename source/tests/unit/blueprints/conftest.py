# SPDX-License-Identifier: Apache-2.0
"""moto for the job Lambdas, with the requests they send to SageMaker recorded as sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto import mock_aws

from lambdas.shared.aws import client, reset_clients

REGION = "us-east-1"
ACCOUNT = "123456789012"
ASSETS = "mlops-assets"
OUTPUT_BUCKET = "mlops-monitoring"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    reset_clients()
    with mock_aws():
        s3 = client("s3")
        for bucket in (ASSETS, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        yield
    reset_clients()


@pytest.fixture
def sent(aws) -> dict[str, list[dict[str, Any]]]:
    """Operation name -> the parameters of every call the code made (moto stores only some fields)."""
    calls: dict[str, list[dict[str, Any]]] = {}

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.setdefault(model.name, []).append(json.loads(json.dumps(params, default=str)))

    client("sagemaker").meta.events.register("provide-client-params.sagemaker.*", record)
    return calls


def sagemaker_backend():
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[ACCOUNT][REGION]


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the code answered CloudFormation (the PUT to the pre-signed URL), instead of sending it."""
    answers: list[dict[str, Any]] = []

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *_):
            return False

        def read(self):
            return b""

    def urlopen(request, timeout=None):
        assert request.get_method() == "PUT"
        answers.append({"url": request.full_url, **json.loads(request.data)})
        return Response()

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    return answers
