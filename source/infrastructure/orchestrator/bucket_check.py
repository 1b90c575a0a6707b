# SPDX-License-Identifier: Apache-2.0
"""When ExistingS3Bucket is set: the stack fails unless that bucket sends its events to Amazon EventBridge.

The pipelines start from the assets bucket's "Object Created" events on EventBridge (no polling): an existing
bucket without EventBridge notifications would never start one. A custom resource reads the bucket's notification
configuration at create and update and fails with the reason and the command that enables them; it never changes
the bucket.
"""

from __future__ import annotations

from aws_cdk import CfnCondition, CustomResource, Duration, custom_resources
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as aws_lambda
from aws_cdk import aws_logs as logs
from constructs import Construct

from infrastructure.blueprints.functions import RUNTIME
from infrastructure.distribution import lambda_code
from infrastructure.nag import acknowledge

from . import permissions
from .conditional import only_if
from .function import ARCHITECTURE, function_role
from .logical_ids import stack_level_logical_id

CHECK_HANDLER = "lambdas.custom_resource.bucket_notifications.handler"


class AssetsBucketEventsCheck(Construct):
    """When `condition` holds: a custom resource that fails unless `bucket_name` has EventBridge notifications."""

    def __init__(self, scope: Construct, construct_id: str, *, condition: CfnCondition, bucket_name: str) -> None:
        super().__init__(scope, construct_id)
        log_group = logs.LogGroup(self, "CheckLogGroup", retention=logs.RetentionDays.ONE_YEAR)
        role = function_role(
            self, "CheckRole", log_group, "Reads the notification configuration of the existing assets bucket"
        )
        # Read only: GetBucketNotificationConfiguration is authorized by s3:GetBucketNotification on the bucket.
        grants = [permissions.statement(["s3:GetBucketNotification"], [permissions.bucket_arn(bucket_name)])]
        policy = iam.Policy(self, "CheckPolicy", document=permissions.policy_document(grants))
        policy.attach_to_role(role)
        function = aws_lambda.Function(
            self,
            "CheckFunction",
            description="Checks that the existing assets bucket sends its events to EventBridge",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=CHECK_HANDLER,
            code=lambda_code("custom_resource"),
            role=role,
            log_group=log_group,
            memory_size=128,
            timeout=Duration.seconds(30),
        )
        provider_logs = logs.LogGroup(self, "CheckProviderLogGroup", retention=logs.RetentionDays.ONE_YEAR)
        provider_role = function_role(
            self, "CheckProviderRole", provider_logs, "Runs the custom resource framework of the assets bucket check"
        )
        provider = custom_resources.Provider(
            self,
            "CheckProvider",
            on_event_handler=function,
            framework_on_event_role=provider_role,
            log_group=provider_logs,
        )
        check = CustomResource(
            self,
            "AssetsBucketEventBridge",
            service_token=provider.service_token,
            resource_type="Custom::AssetsBucketEventBridge",
            properties={"BucketName": bucket_name},
        )
        acknowledge(
            provider_role,
            (
                f"AwsSolutions-IAM5[Resource::<{stack_level_logical_id(function.node.default_child)}.Arn>:*]",
                "The custom resource framework invokes any version of the check function it manages.",
            ),
        )
        only_if(condition, log_group, role, policy, function, provider_logs, provider_role, provider, check)
