# SPDX-License-Identifier: Apache-2.0
"""The four monitors on the open engine: the same parameters, baseline and alarm as on Model Monitor, but the
analyses are SageMaker Processing jobs of our own engine, started each scheduled hour by EventBridge Scheduler.

The schedule invokes a small Lambda with the context attributes `<aws.scheduler.scheduled-time>` and
`<aws.scheduler.execution-id>` (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html):
a processing job's request has optional parts (a KMS key, a VPC) that a universal target's fixed JSON input cannot
leave out, and the Lambda reads the request the baseline wrote, so the template stays one definition of the job.
The schedule depends on the baseline, so a stack whose baseline failed never has a live schedule: CloudFormation
deletes what it created when the creation fails.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from infrastructure.blueprints.functions import KMS_USE, BlueprintFunction, kms_policy, s3_arn, sagemaker_arn
from infrastructure.blueprints.monitors import (
    DataQualityMonitorStack,
    ModelBiasMonitorStack,
    ModelExplainabilityMonitorStack,
    ModelMonitorStack,
    ModelQualityMonitorStack,
)
from infrastructure.nag import acknowledge
from lambdas.blueprints.open_engine import ANALYSIS_JOB_PREFIX, ENGINE_PREFIX, OPEN
from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from lambdas.pipeline_orchestration.spec import Blueprint

SCHEDULER_INPUT = '{"scheduled_time": "<aws.scheduler.scheduled-time>", "execution_id": "<aws.scheduler.execution-id>"}'


def _open_blueprint(pipeline_type: str) -> Blueprint:
    alternative = CATALOGUE[pipeline_type].alternative
    assert alternative is not None, f"{pipeline_type} has no open engine"
    return alternative.blueprint


class OpenEngineMonitor(ModelMonitorStack):
    """What every monitor on the open engine shares (mixed in before the Model Monitor stack of its type)."""

    clarify = False  # the engine computes bias and SHAP itself: no shadow endpoint

    def baseline_properties(self) -> dict[str, Any]:
        p = self.p
        properties = {
            **super().baseline_properties(),
            "Engine": OPEN,
            "EngineBundle": f"s3://{p['BlueprintBucket']}/{ENGINE_PREFIX}/",
            "MonitoringScheduleName": p["MonitoringScheduleName"],
            "MonitoringOutputLocation": p["MonitoringOutputLocation"],
            "DataCaptureLocation": p["DataCaptureLocation"],
            "MonitorMaxRuntimeSeconds": p["MonitorMaxRuntimeSeconds"],
        }
        # How the analyses read the captured requests and responses (the endpoint input of a job definition).
        properties.update({f"Endpoint{name}": value for name, value in self.endpoint_attributes().items()})
        if self.ground_truth:
            properties["MonitorGroundTruthInput"] = p["MonitorGroundTruthInput"]
        return properties

    def schedule_resources(self) -> None:
        p = self.p
        self._grant_engine()
        starter = BlueprintFunction(
            self,
            "AnalysisStarter",
            code_bucket=s3.Bucket.from_bucket_name(self, "EngineCode", p["BlueprintBucket"]),
            handler="lambdas.blueprints.open_engine.run_scheduled",
            description="Starts each scheduled hour's analysis of the open monitoring engine",
            environment={"BASELINE_OUTPUT": self.output_uri, "KMS_KEY_ARN": p["KmsKeyArn"]},
            timeout=Duration.minutes(1),
            log_retention=logs.RetentionDays.ONE_YEAR,
            log_removal_policy=RemovalPolicy.DESTROY,
            statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject"], resources=[s3_arn(f"{p['BaselineJobOutputLocation']}/engine/*")]
                ),
                iam.PolicyStatement(
                    actions=["s3:PutObject"],
                    resources=[s3_arn(f"{p['MonitoringOutputLocation']}/{p['EndpointName']}/*")],
                ),
                iam.PolicyStatement(
                    actions=["sagemaker:CreateProcessingJob", "sagemaker:AddTags"],
                    resources=[sagemaker_arn(f"processing-job/{ANALYSIS_JOB_PREFIX}*")],
                ),
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[self.role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
            ],
        )
        kms_policy(self, "AnalysisStarterKms", starter.role, p["KmsKeyArn"], self.kms, KMS_USE)
        acknowledge(
            starter.role,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<BaselineJobOutputLocation>/engine/*]",
                "The baseline writes the analysis spec and request templates under its engine/ prefix",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<MonitoringOutputLocation>/<EndpointName>/*]",
                "Each hour's spec goes under a new dated key of the endpoint's report prefix",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                f"processing-job/{ANALYSIS_JOB_PREFIX}*]",
                "Each analysis job is named from the schedule's execution id, known only when it runs",
            ),
        )
        # EventBridge Scheduler's execution role: it may invoke this function only, for schedules of this account
        # (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role).
        scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description="Lets EventBridge Scheduler start this monitor's hourly analysis",
            inline_policies={
                "Invoke": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["lambda:InvokeFunction"], resources=[starter.function.function_arn]
                        )
                    ]
                )
            },
        )
        schedule = CfnResource(
            self,
            "AnalysisSchedule",
            type="AWS::Scheduler::Schedule",
            properties={
                "Name": p["MonitoringScheduleName"],
                "Description": f"Hourly analyses of {OPEN.lower()} monitoring engine for this monitor",
                "ScheduleExpression": p["ScheduleExpression"],
                "ScheduleExpressionTimezone": "UTC",
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "State": "ENABLED",
                "Target": {
                    "Arn": starter.function.function_arn,
                    "RoleArn": scheduler_role.role_arn,
                    "Input": SCHEDULER_INPUT,
                    "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
                },
            },
        )
        # No schedule before the baseline has finished (and its templates exist), nor before the starter may act.
        schedule.node.add_dependency(self.baseline.resource, starter.role)

    def _grant_engine(self) -> None:
        """The processing role reads the engine's wheels; explainability's predictor calls the endpoint."""
        p = self.p
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[s3_arn(f"{p['BlueprintBucket']}/{ENGINE_PREFIX}/*")]
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[s3_arn(p["BlueprintBucket"])])
        )
        acknowledge(
            self.role,
            (
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<BlueprintBucket>/{ENGINE_PREFIX}/*]",
                "The job installs the engine from the wheels the build ships under this prefix",
            ),
        )
        starter = self.baseline.starter.role  # type: ignore[union-attr]
        starter.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[s3_arn(f"{p['BaselineJobOutputLocation']}/engine/*")]
            )
        )
        acknowledge(
            starter,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<BaselineJobOutputLocation>/engine/*]",
                "The baseline's spec and the templates of every hour's analysis go under its engine/ prefix",
            ),
        )
        CfnOutput(self, "MonitoringEngine", value=OPEN, description="The engine that runs this monitor")


class OpenDataQualityMonitorStack(OpenEngineMonitor, DataQualityMonitorStack):
    """Data-quality baseline and hourly analyses on the open monitoring engine."""

    blueprint = _open_blueprint("byom_data_quality_monitor")


class OpenModelQualityMonitorStack(OpenEngineMonitor, ModelQualityMonitorStack):
    """Model-quality baseline and hourly analyses on the open monitoring engine."""

    blueprint = _open_blueprint("byom_model_quality_monitor")


class OpenModelBiasMonitorStack(OpenEngineMonitor, ModelBiasMonitorStack):
    """Bias baseline and hourly analyses on the open monitoring engine (Clarify's metrics, computed by it)."""

    blueprint = _open_blueprint("byom_model_bias_monitor")
    clarify = False


class OpenModelExplainabilityMonitorStack(OpenEngineMonitor, ModelExplainabilityMonitorStack):
    """Explainability (SHAP) baseline and hourly analyses on the open monitoring engine."""

    blueprint = _open_blueprint("byom_model_explainability_monitor")
    clarify = False

    def _grant_engine(self) -> None:
        super()._grant_engine()
        # The engine's predictor asks the monitored endpoint for the predictions SHAP explains.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:InvokeEndpoint"], resources=[sagemaker_arn(f"endpoint/{self.p['EndpointName']}")]
            )
        )


OPEN_MONITOR_STACKS: dict[str, type[Stack]] = {
    stack.blueprint.template: stack
    for stack in (
        OpenDataQualityMonitorStack,
        OpenModelQualityMonitorStack,
        OpenModelBiasMonitorStack,
        OpenModelExplainabilityMonitorStack,
    )
}
