# SPDX-License-Identifier: Apache-2.0
"""The CloudFormation custom-resource protocol: read the event, answer on the pre-signed response URL."""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from typing import Any

from lambdas.shared.aws import THROTTLING_CODES, is_already_there

# CloudFormation rejects a response body above 4 KB; the reason is the part that may be long.
MAX_REASON = 3000


# AWS's answers that mean "try again later" (botocore's standard retry mode retries the same codes): its throttles,
# as lambdas/shared/aws.py lists them, and its timeouts and server-side failures.
RETRYABLE_CODES = THROTTLING_CODES | frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


class JobFailed(Exception):
    """The job (or the request to start it) failed; the message becomes the stack event's reason."""


def is_retryable(error: BaseException) -> bool:
    """True for AWS throttling and transient failures (worth another try); False for anything else, such as a
    request AWS refused or a fault of this code, which no retry mends."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.response.get("Error", {}).get("Code", "") in RETRYABLE_CODES or status in (500, 502, 503, 504)
    # botocore's connection and read-timeout errors, and the socket's own
    return isinstance(error, ConnectionError | HTTPClientError | builtins.ConnectionError | TimeoutError)


def create_unless_there(create: Callable[..., Any], request: dict[str, Any], what: str) -> None:
    """Call a SageMaker create; a resource of that name already there is the one asked for (CloudFormation
    retried the request, or a rolled-back stack is created again). Any other refusal fails the job with AWS's reason."""
    from botocore.exceptions import ClientError

    try:
        create(**request)
    except ClientError as error:
        if not is_already_there(error):
            raise JobFailed(f"cannot create {what}: {error}") from error


def properties(event: dict[str, Any]) -> dict[str, str]:
    """The resource's properties without the service token (CloudFormation sends every value as text)."""
    return {k: v for k, v in event.get("ResourceProperties", {}).items() if k != "ServiceToken"}


def respond(
    event: dict[str, Any],
    status: str,
    physical_id: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """Send SUCCESS or FAILED for the event; CloudFormation waits for nothing else."""
    import urllib.request  # deferred: it costs a third of the module's cold import

    body = {
        "Status": status,
        "Reason": (reason or status)[:MAX_REASON],
        "PhysicalResourceId": physical_id or event.get("PhysicalResourceId") or event["LogicalResourceId"],
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": data or {},
    }
    payload = json.dumps(body).encode()
    request = urllib.request.Request(
        event["ResponseURL"],
        data=payload,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(payload))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # the pre-signed https URL CloudFormation gave
        response.read()
