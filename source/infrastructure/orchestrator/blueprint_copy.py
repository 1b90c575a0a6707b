# SPDX-License-Identifier: Apache-2.0
"""Copies the blueprint templates and Lambda zips into the blueprints bucket on create and update."""

from __future__ import annotations

from aws_cdk import CustomResource, Duration, Fn, custom_resources
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as aws_lambda
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infrastructure.blueprints.functions import RUNTIME
from infrastructure.distribution import BLUEPRINTS_PREFIX, Distribution, lambda_code
from infrastructure.nag import acknowledge

from . import permissions
from .function import ARCHITECTURE, function_role
from .logical_ids import StackLevel, stack_level_logical_id

COPY_ASSETS_HANDLER = "lambdas.custom_resource.copy_assets.handler"


class BlueprintCopy(StackLevel):
    """A custom resource that copies `distribution`'s blueprints archive into `blueprints_bucket`."""

    def __init__(
        self, scope: Construct, construct_id: str, *, distribution: Distribution, blueprints_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        log_group = logs.LogGroup(self, "CopyAssetsLogGroup", retention=logs.RetentionDays.ONE_YEAR)
        role = function_role(self, "CopyAssetsRole", log_group, "Copies the blueprints into the blueprints bucket")
        source_bucket = Fn.sub(distribution.regional_bucket)
        grants = [
            permissions.statement(
                ["s3:GetObject"], [f"{permissions.bucket_arn(source_bucket)}/{distribution.blueprints_key}"]
            ),
            permissions.statement(
                ["s3:PutObject"],
                [blueprints_bucket.arn_for_objects(f"{BLUEPRINTS_PREFIX}*")],
                "Writes every file of the blueprints archive (templates and Lambda zips) under blueprints/.",
            ),
        ]
        copy_policy = iam.Policy(self, "CopyAssetsPolicy", document=permissions.policy_document(grants))
        copy_policy.attach_to_role(role)
        permissions.acknowledge_wildcards(copy_policy, grants)
        function = aws_lambda.Function(
            self,
            "CopyAssetsFunction",
            description="Copies the MLOps blueprints from the distribution bucket",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=COPY_ASSETS_HANDLER,
            code=lambda_code("custom_resource"),
            role=role,
            log_group=log_group,
            memory_size=512,
            timeout=Duration.minutes(5),
        )
        provider_logs = logs.LogGroup(self, "CopyAssetsProviderLogGroup", retention=logs.RetentionDays.ONE_YEAR)
        provider_role = function_role(
            self, "CopyAssetsProviderRole", provider_logs, "Runs the custom resource framework of the blueprint copy"
        )
        provider = custom_resources.Provider(
            self,
            "CopyAssetsProvider",
            on_event_handler=function,
            framework_on_event_role=provider_role,
            log_group=provider_logs,
        )
        CustomResource(
            self,
            "CopyBlueprints",
            service_token=provider.service_token,
            resource_type="Custom::CopyBlueprints",
            properties={
                "SourceBucket": source_bucket,
                "SourceKey": distribution.blueprints_key,
                "DestinationBucket": blueprints_bucket.bucket_name,
                "DestinationPrefix": BLUEPRINTS_PREFIX,
            },
        )
        acknowledge(
            provider_role,
            (
                f"AwsSolutions-IAM5[Resource::<{stack_level_logical_id(function.node.default_child)}.Arn>:*]",
                "The custom resource framework invokes any version of the copy function it manages.",
            ),
        )
