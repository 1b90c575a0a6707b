# SPDX-License-Identifier: Apache-2.0
"""Custom resource: an existing assets bucket must send its events to Amazon EventBridge.

The pipelines start when the orchestrator writes their template.zip, through an EventBridge rule on the assets
bucket's "Object Created" events; a bucket whose notification configuration lacks EventBridge never starts one.
On Create and Update this reads the notification configuration of `BucketName` (never changing it) and fails,
which fails the stack, with a reason that names the bucket and the command that enables EventBridge. Delete does
nothing. Runs behind CDK's Provider framework, which reports the raised error's message to CloudFormation.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.shared.aws import client
from lambdas.shared.logging import get_logger

logger = get_logger(__name__)


class EventBridgeNotEnabled(Exception):
    """The bucket's notification configuration has no EventBridgeConfiguration."""


def enable_command(bucket: str) -> str:
    """The AWS CLI command that turns EventBridge notifications on (it replaces the bucket's notification
    configuration: an operator with other notifications adds EventBridgeConfiguration to theirs instead)."""
    configuration = json.dumps({"EventBridgeConfiguration": {}})
    return (
        f"aws s3api put-bucket-notification-configuration --bucket {bucket} "
        f"--notification-configuration '{configuration}'"
    )


def check_event_bridge(bucket: str) -> None:
    """Raise EventBridgeNotEnabled unless the bucket sends its events to EventBridge."""
    configuration = client("s3").get_bucket_notification_configuration(Bucket=bucket)
    if "EventBridgeConfiguration" not in configuration:
        raise EventBridgeNotEnabled(
            f"The ExistingS3Bucket {bucket} does not send its events to Amazon EventBridge, so no pipeline would "
            f"ever start from it. Enable EventBridge notifications on the bucket, e.g. with: {enable_command(bucket)} "
            "(this replaces the bucket's notification configuration: keep any other notifications in it), "
            "then deploy the stack again."
        )
    logger.info("bucket %s sends its events to EventBridge", bucket)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["RequestType"]
    bucket = event.get("ResourceProperties", {}).get("BucketName", "")
    if request == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", bucket)}
    if not bucket:
        raise ValueError("missing resource property: BucketName")
    check_event_bridge(bucket)
    return {"PhysicalResourceId": bucket}
