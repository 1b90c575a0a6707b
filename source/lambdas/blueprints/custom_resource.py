# SPDX-License-Identifier: Apache-2.0
"""The CloudFormation custom-resource protocol: read the event, answer on the pre-signed response URL."""

from __future__ import annotations

import json
from typing import Any

# CloudFormation rejects a response body above 4 KB; the reason is the part that may be long.
MAX_REASON = 3000


class JobFailed(Exception):
    """The job (or the request to start it) failed; the message becomes the stack event's reason."""


def properties(event: dict[str, Any]) -> dict[str, str]:
    """The resource's properties without the service token (CloudFormation sends every value as text)."""
    return {k: v for k, v in event.get("ResourceProperties", {}).items() if k != "ServiceToken"}


def respond(
    event: dict[str, Any],
    status: str,
    physical_id: str,
    reason: str = "",
    data: dict[str, str] | None = None,
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
