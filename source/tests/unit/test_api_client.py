# SPDX-License-Identifier: Apache-2.0
"""The CLI's API client signs requests to a deployed API with SigV4 and leaves local mode unsigned."""

from __future__ import annotations

import pytest

from local.api_client import ApiClient, is_local

DEPLOYED = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"


@pytest.mark.parametrize(
    ("endpoint", "local"),
    [("http://127.0.0.1:8080", True), ("http://localhost:9000", True), (DEPLOYED, False)],
)
def test_local_endpoints_are_recognised(endpoint, local):
    assert is_local(endpoint) is local


def test_requests_to_a_deployed_api_are_signed_for_execute_api_in_its_region():
    client = ApiClient(DEPLOYED)
    headers = client._signed_headers(
        "POST", f"{DEPLOYED}/provisionpipeline", b"{}", {"Content-Type": "application/json"}
    )
    authorization = headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert headers["X-Amz-Security-Token"] == "testing"


def test_missing_credentials_are_a_clear_error(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(PermissionError, match="no AWS credentials"):
        ApiClient(DEPLOYED)._signed_headers("GET", f"{DEPLOYED}/pipelines", None, {})
