# SPDX-License-Identifier: Apache-2.0
"""Local mode names its callers from SigV4's access key id; the CLI signs local requests too."""

from __future__ import annotations

import pytest

from local import callers
from local.api_client import ApiClient

ACCOUNT = "123456789012"


def _signed_headers(monkeypatch: pytest.MonkeyPatch, key_id: str | None, secret: str | None) -> dict[str, str]:
    for name, value in (("AWS_ACCESS_KEY_ID", key_id), ("AWS_SECRET_ACCESS_KEY", secret)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = ApiClient("http://127.0.0.1:8080")
    return client._local_headers("GET", "http://127.0.0.1:8080/pipelines", None, {})


@pytest.mark.parametrize(("key_id", "secret"), [("alice", "secret"), ("bob", None)])
def test_the_cli_signs_local_requests_with_the_credential_chains_key_id(monkeypatch, key_id, secret):
    headers = _signed_headers(monkeypatch, key_id, secret)
    assert callers.access_key_id(headers) == key_id


def test_without_credentials_the_cli_sends_local_requests_unsigned(monkeypatch):
    headers = _signed_headers(monkeypatch, None, None)
    assert "Authorization" not in headers
    assert callers.identity(headers, ACCOUNT)["userArn"] == f"arn:aws:iam::{ACCOUNT}:user/anonymous"


@pytest.mark.parametrize(
    "header",
    [
        "Basic YWxpY2U6c2VjcmV0",
        "AWS4-HMAC-SHA256 Credential=",
        "AWS4-HMAC-SHA256 Credential=al ice/20260101/us-east-1/execute-api/aws4_request",
        "AWS4-HMAC-SHA256 Credential=alice:root/20260101/us-east-1/execute-api/aws4_request",
    ],
)
def test_an_authorization_header_that_is_not_sigv4s_is_anonymous(header):
    identity = callers.identity({"Authorization": header}, ACCOUNT)
    assert identity["userArn"] == f"arn:aws:iam::{ACCOUNT}:user/anonymous"


def test_a_key_id_the_emulator_does_not_know_is_the_user_of_that_name(monkeypatch):
    monkeypatch.setattr(callers, "known_principal", lambda key_id, account: None)
    header = "AWS4-HMAC-SHA256 Credential=carol/20260101/us-east-1/execute-api/aws4_request, Signature=x"
    assert callers.identity({"authorization": header}, ACCOUNT)["userArn"] == f"arn:aws:iam::{ACCOUNT}:user/carol"
