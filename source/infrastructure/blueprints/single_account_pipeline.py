# SPDX-License-Identifier: Apache-2.0
"""single_account_codepipeline.yaml: S3 source on the pipeline's template.zip -> verification -> CloudFormation deploy.

The orchestrator writes template.zip before it creates this stack; CodePipeline runs once when it is
created, and again whenever the object is rewritten (an EventBridge rule, not polling). Before the deploy, a Lambda
action (lambdas/blueprints/artifact_verifier.py) checks that the artifact is the template.zip version the source
stage pinned, as the orchestrator wrote it; a rewritten artifact fails the stage and nothing is deployed.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aspects, Aws, CfnCapabilities, CfnOutput, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infrastructure.blueprints.deploy_role import blueprint_deploy_role
from infrastructure.blueprints.functions import (
    BlueprintFunction,
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


def source_version_read(assets_bucket: str, template_zip: str) -> iam.PolicyStatement:
    """Reading one version's metadata (HeadObject with a VersionId) is s3:GetObjectVersion."""
    return iam.PolicyStatement(
        actions=["s3:GetObjectVersion"], resources=[f"arn:{Aws.PARTITION}:s3:::{assets_bucket}/{template_zip}"]
    )


def verify_action(
    stack: Stack, artifact: codepipeline.Artifact, code_bucket: s3.IBucket, assets_bucket: str, template_zip: str
) -> actions.LambdaInvokeAction:
    """The action that fails its stage unless `artifact` is the template.zip version the source stage pinned, as the
    orchestrator wrote it. Its function reads that object's versions and nothing else: the artifact itself is read
    with the job's own credentials, which CodePipeline gives the job."""
    verifier = BlueprintFunction(
        stack,
        "ArtifactVerifier",
        handler="lambdas.blueprints.artifact_verifier.handler",
        code_bucket=code_bucket,
        description="Fails the stage unless its artifact is the template.zip version the orchestrator wrote",
        statements=[source_version_read(assets_bucket, template_zip)],
    )
    acknowledge(
        verifier,
        (
            "AwsSolutions-IAM5[Resource::*]",
            "CDK's Lambda action grants CodePipeline's job result calls, which have no resource-level permissions",
        ),
    )
    return actions.LambdaInvokeAction(
        action_name="verify_artifact",
        lambda_=verifier.function,
        inputs=[artifact],
        run_order=1,
        user_parameters={"artifact": SOURCE_ARTIFACT, "source_bucket": assets_bucket, "source_key": template_zip},
    )


def acknowledge_lambda_action(pipeline: codepipeline.Pipeline, function_logical_id: str) -> None:
    """The grants CDK's Lambda action gives the pipeline's action role."""
    acknowledge(
        pipeline,
        (
            f"AwsSolutions-IAM5[Resource::<{function_logical_id}.Arn>:*]",
            "CDK's Lambda action may invoke the function's versions and aliases",
        ),
        (
            "AwsSolutions-IAM5[Resource::*]",
            "CDK's Lambda action grants lambda:ListFunctions, which has no resource-level permissions",
        ),
    )


class SingleAccountPipelineStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(
            scope, construct_id, description="MLOps pipeline: deploys a blueprint stack in this account", **kwargs
        )
        p = declare(self, SINGLE_ACCOUNT_PIPELINE)
        assets = s3.Bucket.from_bucket_name(self, "Assets", p["AssetsBucket"].value_as_string)
        artifacts = s3.Bucket.from_bucket_name(self, "Artifacts", p["ArtifactBucket"].value_as_string)

        blueprints = s3.Bucket.from_bucket_name(self, "Blueprints", p["BlueprintBucket"].value_as_string)

        artifact, source = source_stage(self, assets, p["TemplateZipFileName"].value_as_string)
        verify = verify_action(
            self, artifact, blueprints, p["AssetsBucket"].value_as_string, p["TemplateZipFileName"].value_as_string
        )
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
            run_order=2,
        )
        pipeline = blueprint_pipeline(
            self,
            assets,
            p["TemplateZipFileName"].value_as_string,
            p["NotificationsSNSTopicArn"].value_as_string,
            stages=[
                codepipeline.StageProps(stage_name="Source", actions=[source]),
                codepipeline.StageProps(stage_name="DeployCloudFormation", actions=[verify, deploy]),
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
        verifier = self.node.find_child("ArtifactVerifier").node.find_child("Function").node.default_child
        acknowledge_lambda_action(pipeline, self.get_logical_id(verifier))  # type: ignore[arg-type]
        CfnOutput(self, "Pipelines", value=console_url(pipeline.pipeline_name), description="The pipeline's console")
