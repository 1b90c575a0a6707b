# SPDX-License-Identifier: Apache-2.0
"""Custom resource that runs a blueprint's job Lambda when the stack is created or updated.

The resource's properties name the job Lambda (`FunctionName`) and carry every job attribute, so any
change of them runs the job again. The job Lambda is invoked synchronously: its answer
({"PhysicalResourceId", "Data"}) becomes the resource's, and its error fails the stack with the job's own
message. Delete leaves the job's results in place.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.blueprints.custom_resource import JobFailed, respond
from lambdas.shared.aws import client
from lambdas.shared.logging import get_logger

logger = get_logger(__name__)

# Properties meant for this resource, not for the job.
OWN_PROPERTIES = ("ServiceToken", "FunctionName")


def run_job(event: dict[str, Any]) -> dict[str, Any]:
    properties = dict(event.get("ResourceProperties", {}))
    function_name = properties["FunctionName"]
    payload = {
        "RequestType": event["RequestType"],
        "RequestId": event["RequestId"],
        "StackId": event.get("StackId", ""),
        "LogicalResourceId": event.get("LogicalResourceId", ""),
        "ResourceProperties": {k: v for k, v in properties.items() if k not in OWN_PROPERTIES},
    }
    response = client("lambda").invoke(
        FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
    )
    body = response["Payload"].read().decode() if response.get("Payload") else ""
    if response.get("FunctionError"):
        try:
            detail = json.loads(body)
            message = f"{detail.get('errorType', 'Error')}: {detail.get('errorMessage', body)}"
        except ValueError:
            message = body
        raise JobFailed(message or "the job Lambda failed without a message")
    answer = json.loads(body) if body else {}
    return answer if isinstance(answer, dict) else {}


def handle(event: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    """(status, reason, physical id, data) of one custom-resource event."""
    physical_id = event.get("PhysicalResourceId") or event["LogicalResourceId"]
    if event["RequestType"] == "Delete":
        return "SUCCESS", "Nothing to delete: the job's results are kept", physical_id, {}
    try:
        answer = run_job(event)
    except JobFailed as error:
        return "FAILED", str(error), physical_id, {}
    data = answer.get("Data", {})
    return "SUCCESS", "Job started", str(answer.get("PhysicalResourceId") or physical_id), data


def handler(event: dict[str, Any], context: Any) -> None:
    try:
        status, reason, physical_id, data = handle(event)
    except Exception as error:
        # CloudFormation waits an hour for an answer that never comes; fail the resource with the reason.
        logger.exception("custom resource %s failed", event.get("LogicalResourceId"))
        status, reason, physical_id, data = (
            "FAILED",
            f"{type(error).__name__}: {error}",
            event.get("PhysicalResourceId") or event.get("LogicalResourceId", "resource"),
            {},
        )
    respond(event, status, physical_id, reason, data)
