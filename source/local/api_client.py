# SPDX-License-Identifier: Apache-2.0
"""HTTP client of the orchestrator's API: local mode as it is, a deployed API Gateway signed with SigV4."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"


def is_local(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


@dataclass
class ApiResponse:
    status: int
    body: Any
    retry_after: float | None = None  # seconds, from the Retry-After of a 502/503/504 (AWS throttled or down)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class ApiClient:
    endpoint: str = DEFAULT_ENDPOINT
    profile: str | None = None
    region: str | None = None
    timeout: float = 60.0

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> ApiResponse:
        url = self.endpoint.rstrip("/") + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v})
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if not is_local(self.endpoint):
            headers = self._signed_headers(method, url, data, headers)
        else:
            headers = self._local_headers(method, url, data, headers)
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return ApiResponse(response.status, _decode(response.read()))
        except urllib.error.HTTPError as error:
            return ApiResponse(error.code, _decode(error.read()), _seconds(error.headers.get("Retry-After")))

    def _local_headers(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> dict[str, str]:
        """Local mode names the caller by the access key id a request is signed with, as the credential chain gives
        it (`AWS_ACCESS_KEY_ID=alice` acts as alice; a key id without a secret signs too, the signature is not
        checked locally); with no credentials at all the request goes unsigned, as the anonymous user."""
        import os

        from botocore.exceptions import BotoCoreError

        try:
            return self._signed_headers(method, url, data, headers, region="us-east-1")
        except (PermissionError, BotoCoreError):
            key_id = os.environ.get("AWS_ACCESS_KEY_ID")
            if not key_id:
                return headers
            from botocore.credentials import Credentials

            return _sign(
                Credentials(key_id, "local-mode-does-not-check-signatures"), method, url, data, headers, "us-east-1"
            )

    def _signed_headers(
        self, method: str, url: str, data: bytes | None, headers: dict[str, str], region: str | None = None
    ) -> dict[str, str]:
        """SigV4 for execute-api, with credentials from the standard AWS chain (profile, env, SSO, role...)."""
        import boto3

        session = boto3.Session(profile_name=self.profile, region_name=self.region)
        credentials = session.get_credentials()
        if credentials is None:
            raise PermissionError("no AWS credentials found: set a profile (--profile) or the standard AWS variables")
        # The API's own region signs its requests: --aws-region, else the URL's, else the profile's.
        region = region or self.region or _region_from_url(url) or session.region_name or "us-east-1"
        return _sign(credentials.get_frozen_credentials(), method, url, data, headers, region)


def _sign(
    credentials: Any, method: str, url: str, data: bytes | None, headers: dict[str, str], region: str
) -> dict[str, str]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, data=data, headers=headers)
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def _region_from_url(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    parts = host.split(".")  # <api-id>.execute-api.<region>.amazonaws.com
    return parts[2] if len(parts) > 3 and parts[1] == "execute-api" else None


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {"message": raw.decode(errors="replace")}


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: the caller backs off on its own
        return None
