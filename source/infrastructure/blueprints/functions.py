# SPDX-License-Identifier: Apache-2.0
"""Constructs the blueprints share: job Lambdas with least-privilege roles, and outcome notifications."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnCondition, Duration, Fn, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infrastructure.distribution import blueprint_lambdas_key
from infrastructure.nag import acknowledge

RUNTIME = lambda_.Runtime.PYTHON_3_14


class BlueprintFunction(Construct):
    """A Lambda running `lambdas.blueprints.<module>.handler` with its own log group, and a role holding
    exactly `statements` plus writing to that log group (all inline: the role is complete before the
    function exists, so a custom resource can call it at once)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        code_bucket: s3.IBucket,
        description: str,
        statements: list[iam.PolicyStatement],
        environment: dict[str, str] | None = None,
        timeout: Duration | None = None,
        memory_size: int = 256,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=logs.RetentionDays.THREE_MONTHS)
        logs_statement = iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[self.log_group.log_group_arn]
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {handler}",
            inline_policies={"Function": iam.PolicyDocument(statements=[logs_statement, *statements])},
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=lambda_.Code.from_bucket(code_bucket, blueprint_lambdas_key()),
            role=self.role,
            log_group=self.log_group,
            description=description,
            environment={"LOG_LEVEL": "INFO", **(environment or {})},
            timeout=timeout or Duration.minutes(1),
            memory_size=memory_size,
        )
        # The role's ARN is referenced already; CDK's extra DependsOn on it is redundant (cfn-lint W3005).
        only_policy_dependencies(self.function.node.default_child, self.role)


def only_policy_dependencies(resource: Any, role: iam.IRole) -> None:
    """Make `resource` depend on its role's separate default policy, if any, and not on the role itself."""
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is None:
        resource.add_deletion_override("DependsOn")
    else:
        resource.add_override("DependsOn", [Stack.of(resource).get_logical_id(policy.node.default_child)])


def pipeline_outcome_notification(
    scope: Construct, construct_id: str, pipeline_name: str, topic_arn: str, condition: CfnCondition | None = None
) -> events.CfnRule:
    """EventBridge rule: the pipeline SUCCEEDED or FAILED -> one line on the SNS topic."""
    rule = events.CfnRule(
        scope,
        construct_id,
        description="Tells the SNS topic how the pipeline's execution ended",
        event_pattern={
            "source": ["aws.codepipeline"],
            "detail-type": ["CodePipeline Pipeline Execution State Change"],
            "detail": {"pipeline": [pipeline_name], "state": ["SUCCEEDED", "FAILED"]},
        },
        targets=[
            events.CfnRule.TargetProperty(
                arn=topic_arn,
                id="Notify",
                input_transformer=events.CfnRule.InputTransformerProperty(
                    input_paths_map={"pipeline": "$.detail.pipeline", "state": "$.detail.state"},
                    input_template=('"Pipeline <pipeline> finished executing. Pipeline execution result is <state>"'),
                ),
            )
        ],
    )
    if condition is not None:
        rule.cfn_options.condition = condition
    return rule


def s3_source_trigger(scope: Construct, construct_id: str, bucket: str, key: str, pipeline_arn: str) -> events.CfnRule:
    """EventBridge rule that starts the pipeline when its source object is written (no polling).

    Needs EventBridge notifications on the assets bucket (the orchestrator stack turns them on)."""
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
        description="Starts the pipeline when its source object changes",
        inline_policies={
            "StartPipeline": iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(actions=["codepipeline:StartPipelineExecution"], resources=[pipeline_arn])
                ]
            )
        },
    )
    return events.CfnRule(
        scope,
        construct_id,
        description="Starts the pipeline when its source object is written",
        event_pattern={
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [key]}},
        },
        targets=[events.CfnRule.TargetProperty(arn=pipeline_arn, id="Pipeline", role_arn=role.role_arn)],
        state="ENABLED",
    )


def console_url(pipeline_name: str) -> str:
    return Fn.sub(
        "https://${AWS::Region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/${Name}/view?region=${AWS::Region}",
        {"Name": pipeline_name},
    )


def blueprint_pipeline(
    scope: Construct, assets: s3.IBucket, source_key: str, topic_arn: str, stages: list[codepipeline.StageProps]
) -> codepipeline.Pipeline:
    """A blueprint pipeline (V2, artifacts in the assets bucket) with what every one has: it starts when its
    source object changes, reports its outcome to SNS, depends on its role's policy only, and carries the
    acknowledgments CDK's pipeline construct needs."""
    pipeline = codepipeline.Pipeline(
        scope,
        "Pipeline",
        artifact_bucket=assets,
        cross_account_keys=False,
        restart_execution_on_update=False,
        pipeline_type=codepipeline.PipelineType.V2,
        stages=stages,
    )
    s3_source_trigger(scope, "SourceChanged", assets.bucket_name, source_key, pipeline.pipeline_arn)
    pipeline_outcome_notification(scope, "PipelineOutcome", pipeline.pipeline_name, topic_arn)
    only_policy_dependencies(pipeline.node.default_child, pipeline.role)
    acknowledge_pipeline(pipeline)
    return pipeline


def acknowledge_pipeline(pipeline: codepipeline.Pipeline, assets_bucket_ref: str = "<AssetsBucket>") -> None:
    """Findings every wrapper pipeline has, from the grants CDK gives a pipeline on its artifact store.

    The action prefixes are named action by action in the synthesized template (distribution.NAMED_ACTIONS)."""
    acknowledge(
        pipeline,
        (
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{assets_bucket_ref}/*]",
            "The pipeline keeps its artifacts in the orchestrator's assets bucket (encrypted, versioned and "
            "access-logged by the orchestrator stack) and reads its source object there",
        ),
        ("AwsSolutions-IAM5[Action::s3:GetObject*]", "CDK's read grant on the artifact store (object and version)"),
        ("AwsSolutions-IAM5[Action::s3:GetBucket*]", "CDK's read grant on the artifact store's bucket metadata"),
        ("AwsSolutions-IAM5[Action::s3:List*]", "CDK's read grant lists the artifact store"),
        ("AwsSolutions-IAM5[Action::s3:DeleteObject*]", "CDK's write grant lets the pipeline replace its artifacts"),
        ("AwsSolutions-IAM5[Action::s3:Abort*]", "CDK's write grant aborts failed multipart artifact uploads"),
    )
