# SPDX-License-Identifier: Apache-2.0
"""Blueprint Lambdas run against moto: fake credentials, one region, fresh clients per test."""

from __future__ import annotations

import pytest
from moto import mock_aws

from lambdas.shared.aws import reset_clients

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    reset_clients()
    with mock_aws():
        yield
    reset_clients()
