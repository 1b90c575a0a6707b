# SPDX-License-Identifier: Apache-2.0
"""single_account_codepipeline.yaml: S3 source on the pipeline's template.zip -> CloudFormation deploy.

The orchestrator writes template.zip before it creates this stack; CodePipeline runs once when it is
created, and again whenever the object is rewritten (an EventBridge rule, not polling).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aspects, CfnCapabilities, CfnOutput, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infrastructure.blueprints.deploy_role import blueprint_deploy_role
from infrastructure.blueprints.functions import (
    blueprint_pipeline,
    console_url,
)
from infrastructure.blueprints.parameters import declare
from infrastructure.boundary import OnAnyResource, PassRolesOnlyTo
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.catalogue import SINGLE_ACCOUNT_PIPELINE

SOURCE_ARTIFACT = "Artifact_Source_S3Source"


def source_stage(stack: Stack, assets: s3.IBucket, key: str) -> tuple[codepipeline.Artifact, actions.S3SourceAction]:
    artifact = codepipeline.Artifact(SOURCE_ARTIFACT)
    action = actions.S3SourceAction(
        action_name="S3Source", bucket=assets, bucket_key=key, output=artifact, trigger=actions.S3Trigger.NONE
    )
    return artifact, action


class SingleAccountPipelineStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(
            scope, construct_id, description="MLOps pipeline: deploys a blueprint stack in this account", **kwargs
        )
        p = declare(self, SINGLE_ACCOUNT_PIPELINE)
        assets = s3.Bucket.from_bucket_name(self, "Assets", p["AssetsBucket"].value_as_string)
        artifacts = s3.Bucket.from_bucket_name(self, "Artifacts", p["ArtifactBucket"].value_as_string)

        artifact, source = source_stage(self, assets, p["TemplateZipFileName"].value_as_string)
        deploy_role = blueprint_deploy_role(self, "DeployRole")
        deploy = actions.CloudFormationCreateUpdateStackAction(
            action_name="deploy_stack",
            stack_name=p["StackName"].value_as_string,
            template_path=artifact.at_path(p["TemplateFileName"].value_as_string),
            template_configuration=artifact.at_path(p["TemplateParamsName"].value_as_string),
            admin_permissions=False,
            deployment_role=deploy_role,
            cfn_capabilities=[CfnCapabilities.NAMED_IAM, CfnCapabilities.AUTO_EXPAND],
            replace_on_failure=False,
        )
        pipeline = blueprint_pipeline(
            self,
            assets,
            p["TemplateZipFileName"].value_as_string,
            p["NotificationsSNSTopicArn"].value_as_string,
            stages=[
                codepipeline.StageProps(stage_name="Source", actions=[source]),
                codepipeline.StageProps(stage_name="DeployCloudFormation", actions=[deploy]),
            ],
            artifacts=artifacts,
        )
        # The deploy action passes its deployment role to CloudFormation, and to nothing else.
        Aspects.of(pipeline).add(PassRolesOnlyTo("cloudformation.amazonaws.com"))
        Aspects.of(pipeline).add(OnAnyResource("cloudformation:ValidateTemplate"))
        acknowledge(
            pipeline,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/<StackName>/*]",
                "The deploy action manages exactly the stack named StackName; the suffix is its generated id",
            ),
            ("AwsSolutions-IAM5[Action::cloudformation:DescribeStack*]", "CDK's deploy action reads stack state"),
            ("AwsSolutions-IAM5[Action::cloudformation:GetTemplate*]", "CDK's deploy action reads the stack template"),
        )
        CfnOutput(self, "Pipelines", value=console_url(pipeline.pipeline_name), description="The pipeline's console")
