# SPDX-License-Identifier: Apache-2.0
"""The assets-bucket check: an existing bucket without EventBridge notifications fails the stack, with the way out."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdas.custom_resource import bucket_notifications
from lambdas.shared.aws import reset_clients

BUCKET = "my-ml-assets"
ENABLE = (
    f"aws s3api put-bucket-notification-configuration --bucket {BUCKET} "
    """--notification-configuration '{"EventBridgeConfiguration": {}}'"""
)


def _event(request: str, bucket: str = BUCKET) -> dict:
    event = {
        "RequestType": request,
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
            "BucketName": bucket,
        },
    }
    if request != "Create":
        event["PhysicalResourceId"] = bucket
    return event


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch):
    """moto (5.2) stores a bucket's EventBridgeConfiguration but leaves it out of GetBucketNotificationConfiguration's
    answer: S3's answer is given here, from what moto stored."""
    from moto.s3.responses import ActionResult, S3Response

    answer = S3Response.get_bucket_notification

    def get_bucket_notification(self):
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if configuration is None or configuration.event_bridge is None:
            return answer(self)
        self.data["Action"] = "GetBucketNotificationConfiguration"
        return self.serialized(ActionResult({"EventBridgeConfiguration": {}}))

    monkeypatch.setattr(S3Response, "get_bucket_notification", get_bucket_notification)
    with mock_aws():
        reset_clients()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield s3


def _enable_event_bridge(s3) -> None:
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}})


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_a_bucket_with_event_bridge_passes(s3, request_type):
    _enable_event_bridge(s3)
    assert bucket_notifications.handler(_event(request_type), None) == {"PhysicalResourceId": BUCKET}


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_a_bucket_without_event_bridge_fails_with_the_way_out(s3, request_type):
    with pytest.raises(bucket_notifications.EventBridgeNotEnabled) as failure:
        bucket_notifications.handler(_event(request_type), None)
    reason = str(failure.value)
    assert f"The ExistingS3Bucket {BUCKET} does not send its events to Amazon EventBridge" in reason
    assert ENABLE in reason


def test_other_notifications_without_event_bridge_fail(s3):
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    with pytest.raises(bucket_notifications.EventBridgeNotEnabled, match=BUCKET):
        bucket_notifications.handler(_event("Create"), None)


def test_the_check_never_changes_the_bucket(s3):
    before = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    with pytest.raises(bucket_notifications.EventBridgeNotEnabled):
        bucket_notifications.handler(_event("Create"), None)
    after = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    before.pop("ResponseMetadata"), after.pop("ResponseMetadata")
    assert before == after == {}


def test_a_missing_bucket_fails(s3):
    with pytest.raises(ClientError, match="NoSuchBucket"):
        bucket_notifications.handler(_event("Create", "no-such-bucket"), None)


def test_delete_reads_nothing(s3):
    # Even a bucket gone since (or never with EventBridge) lets the stack be deleted.
    assert bucket_notifications.handler(_event("Delete", "no-such-bucket"), None) == {
        "PhysicalResourceId": "no-such-bucket"
    }
