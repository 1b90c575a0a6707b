# SPDX-License-Identifier: Apache-2.0
"""multi_account_codepipeline.yaml: Source -> DeployDev -> (approval) DeployStaging -> (approval) DeployProd.

Each stage is a Lambda action (lambdas/blueprints/stackset_deployer.py) that creates or updates the stage's
StackSet in the Organization and follows it to the end. StackSet names are
`<StackName>-<stage>-<first 8 hex of this stack's id>`, as the orchestrator's status reads them.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aws, CfnCondition, CfnOutput, Duration, Fn, Stack, Token
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infrastructure.blueprints.functions import (
    BlueprintFunction,
    blueprint_pipeline,
    console_url,
)
from infrastructure.blueprints.parameters import declare
from infrastructure.blueprints.single_account_pipeline import SOURCE_ARTIFACT, source_stage, source_version_read
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.catalogue import MULTI_ACCOUNT_PIPELINE, PIPELINE_PREFIX
from lambdas.pipeline_orchestration.planner import BLUEPRINTS_PREFIX
from lambdas.pipeline_orchestration.settings import STAGES

APPROVAL_TEXT = {
    "staging": "Please approve to deploy to staging account",
    "prod": "Please approve to deploy to production account",
}


def stack_id_prefix() -> str:
    """First 8 hex digits of this stack's id (the first group of the UUID at the end of its ARN)."""
    return Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID))))


def stackset_name(pipeline_name: str, stage: str) -> str:
    """Same formula as lambdas.pipeline_orchestration.status.stackset_name, evaluated by CloudFormation."""
    return Fn.join("-", [pipeline_name, stage, stack_id_prefix()])


def _rendered_if(resource: str) -> str:
    """How cdk-nag names a resource given as Fn::If(UseDelegatedAdmin, any account, this account)."""
    return json.dumps(
        {
            "Fn::If": [
                "UseDelegatedAdmin",
                {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":cloudformation:",
                            {"Ref": "AWS::Region"},
                            f":*:{resource}",
                        ],
                    ]
                },
                {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":cloudformation:",
                            {"Ref": "AWS::Region"},
                            ":",
                            {"Ref": "AWS::AccountId"},
                            f":{resource}",
                        ],
                    ]
                },
            ]
        },
        separators=(",", ":"),
    )


class MultiAccountPipelineStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description="MLOps pipeline: deploys a blueprint to dev, staging and prod accounts with StackSets",
            **kwargs,
        )
        p = declare(self, MULTI_ACCOUNT_PIPELINE)
        delegated = CfnCondition(
            self, "UseDelegatedAdmin", expression=Fn.condition_equals(p["DelegatedAdminAccount"].value_as_string, "Yes")
        )
        assets = s3.Bucket.from_bucket_name(self, "Assets", p["AssetsBucket"].value_as_string)
        artifacts = s3.Bucket.from_bucket_name(self, "Artifacts", p["ArtifactBucket"].value_as_string)
        blueprints = s3.Bucket.from_bucket_name(self, "Blueprints", p["BlueprintBucket"].value_as_string)
        topic = sns.Topic.from_topic_arn(self, "Notifications", p["NotificationsSNSTopicArn"].value_as_string)
        template_file = p["TemplateFileName"].value_as_string

        deployer = BlueprintFunction(
            self,
            "StackSetDeployer",
            handler="lambdas.blueprints.stackset_deployer.handler",
            code_bucket=blueprints,
            description="Creates or updates a stage's StackSet and follows it to the end",
            environment={"CALL_AS": Token.as_string(Fn.condition_if(delegated.logical_id, "DELEGATED_ADMIN", "SELF"))},
            timeout=Duration.minutes(5),
            statements=[
                *self._stackset_statements(delegated, p["BlueprintBucket"].value_as_string),
                source_version_read(p["AssetsBucket"].value_as_string, p["TemplateZipFileName"].value_as_string),
            ],
        )
        self._acknowledge_deployer(deployer)

        artifact, source = source_stage(self, assets, p["TemplateZipFileName"].value_as_string)
        stages = [codepipeline.StageProps(stage_name="Source", actions=[source])]
        for index, stage in enumerate(STAGES):
            title = stage.capitalize()
            stage_actions: list[codepipeline.IAction] = [
                actions.LambdaInvokeAction(
                    action_name=f"Deploy{title}StackSet",
                    lambda_=deployer.function,
                    inputs=[artifact],
                    run_order=1,
                    user_parameters={
                        "stackset_name": stackset_name(p["StackName"].value_as_string, stage),
                        "artifact": SOURCE_ARTIFACT,
                        "template_file": template_file,
                        "stage_params_file": p[f"{title}ParamsName"].value_as_string,
                        "account_ids": [p[f"{title}AccountId"].value_as_string],
                        "org_ids": [p[f"{title}OrgId"].value_as_string],
                        "regions": [Aws.REGION],
                        # The deployer checks the artifact against the template.zip version the source pinned.
                        "source_bucket": p["AssetsBucket"].value_as_string,
                        "source_key": p["TemplateZipFileName"].value_as_string,
                        "template_url": Fn.join(
                            "",
                            [
                                "https://",
                                p["BlueprintBucket"].value_as_string,
                                f".s3.{Aws.REGION}.{Aws.URL_SUFFIX}/{BLUEPRINTS_PREFIX}/",
                                template_file,
                            ],
                        ),
                    },
                )
            ]
            if index + 1 < len(STAGES):
                following = STAGES[index + 1]
                stage_actions.append(
                    actions.ManualApprovalAction(
                        action_name=f"Deploy{following.capitalize()}",
                        run_order=2,
                        notification_topic=topic,
                        additional_information=APPROVAL_TEXT[following],
                    )
                )
            stages.append(codepipeline.StageProps(stage_name=f"Deploy{title}", actions=stage_actions))

        pipeline = blueprint_pipeline(
            self,
            assets,
            p["TemplateZipFileName"].value_as_string,
            p["NotificationsSNSTopicArn"].value_as_string,
            stages=stages,
            artifacts=artifacts,
        )
        acknowledge(
            pipeline,
            (
                "AwsSolutions-IAM5[Resource::<StackSetDeployerFunction0E995B5D.Arn>:*]",
                "CDK's Lambda action may invoke the deployer function's versions and aliases",
            ),
            (
                "AwsSolutions-IAM5[Resource::*]",
                "CDK's Lambda action grants lambda:ListFunctions, which has no resource-level permissions",
            ),
        )
        CfnOutput(self, "Pipelines", value=console_url(pipeline.pipeline_name), description="The pipeline's console")

    def _stackset_statements(self, delegated: CfnCondition, blueprint_bucket: str) -> list[iam.PolicyStatement]:
        # A delegated administrator's StackSets are owned by the management account, whose id is unknown here.
        partition, region = Aws.PARTITION, Aws.REGION

        def owned(resource: str) -> str:
            return Token.as_string(
                Fn.condition_if(
                    delegated.logical_id,
                    f"arn:{partition}:cloudformation:{region}:*:{resource}",
                    f"arn:{partition}:cloudformation:{region}:{Aws.ACCOUNT_ID}:{resource}",
                )
            )

        return [
            iam.PolicyStatement(
                actions=[
                    "cloudformation:UpdateStackSet",
                    "cloudformation:DescribeStackSet",
                    "cloudformation:CreateStackInstances",
                    "cloudformation:DescribeStackInstance",
                    "cloudformation:DescribeStackSetOperation",
                    "cloudformation:ListStackSetOperationResults",
                    "cloudformation:TagResource",
                ],
                resources=[
                    owned(f"stackset/{PIPELINE_PREFIX}*"),
                    owned(f"stackset-target/{PIPELINE_PREFIX}*"),
                    f"arn:{partition}:cloudformation:{region}::type/resource/*",
                ],
            ),
            # CreateStackSet is authorized on "*" only: the Service Authorization Reference lists no resource type
            # for it (https://docs.aws.amazon.com/service-authorization/latest/reference/
            # list_awscloudformation.html); the StackSet it creates is then reachable only through the grant above.
            iam.PolicyStatement(actions=["cloudformation:CreateStackSet"], resources=["*"]),
            # Resource "*": these Organizations reads and CodePipeline's job-result calls take no resource.
            iam.PolicyStatement(
                actions=["organizations:ListDelegatedAdministrators", "organizations:DescribeOrganization"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                actions=["codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"], resources=["*"]
            ),
            # CloudFormation reads a template given by URL with the caller's credentials.
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[f"arn:{partition}:s3:::{blueprint_bucket}/{BLUEPRINTS_PREFIX}/*"],
            ),
        ]

    def _acknowledge_deployer(self, deployer: BlueprintFunction) -> None:
        acknowledge(
            deployer,
            *[
                (
                    f"AwsSolutions-IAM5[Resource::{_rendered_if(resource)}]",
                    f"The pipeline's StackSet {kind}: named <StackName>-<stage>-<id> under the mlops-pipeline "
                    "prefix; any account only when acting as delegated administrator, because the StackSets "
                    "then belong to the management account",
                )
                for kind, resource in (
                    ("", f"stackset/{PIPELINE_PREFIX}*"),
                    ("targets", f"stackset-target/{PIPELINE_PREFIX}*"),
                )
            ],
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>::type/resource/*]",
                "StackSets checks the resource types of the template it deploys; any blueprint's types",
            ),
            (
                "AwsSolutions-IAM5[Resource::*]",
                "organizations:ListDelegatedAdministrators/DescribeOrganization and CodePipeline's job result "
                "calls have no resource-level permissions",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<BlueprintBucket>/blueprints/*]",
                "CloudFormation reads a blueprint template larger than a template body by its URL in the "
                "blueprints prefix",
            ),
        )
