# SPDX-License-Identifier: Apache-2.0
"""The training blueprints: a training job, a hyperparameter tuning job and an Autopilot (AutoML V2) job.

Each job is created by a custom resource (a boto3 Lambda) and runs on after the stack completes; EventBridge
rules tell the solution's SNS topic when it completes, fails or stops, with the job's failure reason.
"""

from __future__ import annotations

from typing import Any, ClassVar

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from infrastructure.blueprints.functions import (
    KMS_FOR_JOBS,
    JobResource,
    allow_job_logs,
    kms_policy,
    provided,
    s3_arn,
    sagemaker_arn,
    sagemaker_role,
)
from infrastructure.blueprints.network import declare_network
from infrastructure.blueprints.parameters import declare_parameters
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.catalogue import AUTOPILOT, TRAINING, TUNER
from lambdas.pipeline_orchestration.spec import Blueprint

FINISHED = ["Completed", "Failed", "Stopped"]


def notify(
    scope: Construct,
    construct_id: str,
    topic: sns.ITopic,
    *,
    detail_type: str,
    name_field: str,
    status_field: str,
    name: Any,
    statuses: list[str],
    what: str,
) -> events.Rule:
    """A rule that tells the topic when a SageMaker job of `detail_type` reaches one of `statuses`."""
    job, status = (
        events.EventField.from_path(f"$.detail.{name_field}"),
        events.EventField.from_path(f"$.detail.{status_field}"),
    )
    reason = events.EventField.from_path("$.detail.FailureReason")
    return events.Rule(
        scope,
        construct_id,
        description=f"Tells the solution's topic when the {what} finishes",
        event_pattern=events.EventPattern(
            source=["aws.sagemaker"],
            detail_type=[detail_type],
            detail={name_field: name, status_field: statuses},
        ),
        targets=[
            targets.SnsTopic(
                topic,
                message=events.RuleTargetInput.from_text(
                    f"The {what} {job} status is: {status}. Failure reason (if any): {reason}"
                ),
            )
        ],
    )


class _JobStack(Stack):
    """Parameters, SageMaker role and job resource shared by the three training blueprints."""

    blueprint: ClassVar[Blueprint]
    job_kind: ClassVar[str]
    job_resource: ClassVar[str]  # IAM resource type of the job: training-job, hyper-parameter-tuning-job, ...
    create_action: ClassVar[str]
    output_prefix: ClassVar[str]  # the predecessor's output names: TrainingJobName, AutopilotJobName, ...

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=self.__doc__, **kwargs)
        p = self.p = declare_parameters(self, self.blueprint)
        self.kms = provided(self, "KmsKeyProvided", p["KmsKeyArn"])
        self.topic = sns.Topic.from_topic_arn(self, "Notifications", p["NotificationsSNSTopicArn"])
        self.output_uri = f"s3://{p['AssetsBucket']}/{p['JobOutputLocation']}"
        self.role = sagemaker_role(self, "SageMakerRole", f"Runs the {self.job_kind} of this stack")
        self._grant_data()
        role_kms = kms_policy(self, "SageMakerRoleKms", self.role, p["KmsKeyArn"], self.kms, KMS_FOR_JOBS)
        self.job = JobResource(
            self,
            "Job",
            blueprint_bucket=p["BlueprintBucket"],
            resource_type=f"Custom::{self.job_kind}",
            properties={
                "JobKind": self.job_kind,
                "RoleArn": self.role.role_arn,
                **{
                    name: p[name]
                    for name in self.blueprint.parameters
                    if name not in ("BlueprintBucket", "NotificationsSNSTopicArn")
                },
            },
        )
        starter = self.job.starter.role
        # The job runs with its role's policies in place (the role itself is referenced already).
        vpc_access = declare_network(self, p).grant(self.role, "SageMakerVpcAccess")
        self.job.depend_on(self.role.node.find_child("DefaultPolicy"), role_kms, vpc_access)
        starter.add_to_policy(
            iam.PolicyStatement(
                actions=[self.create_action, "sagemaker:AddTags"],
                resources=[sagemaker_arn(f"{self.job_resource}/{p['JobName']}")],
            )
        )
        starter.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        CfnOutput(self, f"{self.output_prefix}JobName", value=p["JobName"], description=f"Name of the {self.job_kind}")
        CfnOutput(
            self, f"{self.output_prefix}JobOutputLocation", value=self.output_uri, description="Output of the job"
        )
        CfnOutput(
            self,
            "TrainingDataLocation",
            value=f"s3://{p['AssetsBucket']}/{p['TrainingData']}",
            description="Training data",
        )

    def _grant_data(self) -> None:
        p = self.p
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[s3_arn(f"{p['AssetsBucket']}/{p['TrainingData']}*")]
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[s3_arn(f"{p['AssetsBucket']}/{p['JobOutputLocation']}/*")],
            )
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[s3_arn(p["AssetsBucket"])]))
        acknowledge(
            self.role,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<AssetsBucket>/<TrainingData>*]",
                "The training data may be a prefix of many files (S3Prefix channels)",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<AssetsBucket>/<JobOutputLocation>/*]",
                "SageMaker writes the model, checkpoints and reports under keys named after each job",
            ),
            (
                "AwsSolutions-IAM5[Resource::*]",
                "cloudwatch:PutMetricData has no resource type; the statement is limited to SageMaker namespaces",
            ),
        )


class _BuiltinTrainingStack(_JobStack):
    """Training and tuning share the channels, the validation data and the notifications of training jobs."""

    finished_event: tuple[str, str, str]
    what: str

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        p = self.p
        validation = provided(self, "ValidationDataProvided", p["ValidationData"])
        statement = iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[s3_arn(f"{p['AssetsBucket']}/{p['ValidationData']}*")]
        )
        policy = iam.Policy(self, "ValidationDataAccess", roles=[self.role], statements=[statement])
        policy.node.default_child.cfn_options.condition = validation  # type: ignore[union-attr]
        self.job.depend_on(policy)
        acknowledge(
            policy,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<AssetsBucket>/<ValidationData>*]",
                "The validation data may be a prefix of many files (S3Prefix channels)",
            ),
        )
        allow_job_logs(self.role, "TrainingJobs")
        output = CfnOutput(
            self,
            "ValidationDataLocation",
            value=f"s3://{p['AssetsBucket']}/{p['ValidationData']}",
            description="Validation data",
        )
        output.condition = validation
        acknowledge(
            self.role,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                "/aws/sagemaker/TrainingJobs:*]",
                "SageMaker names each job's log stream at run time inside the TrainingJobs log group",
            ),
        )
        # SageMaker's state-change event of this kind of job: detail type, name field, status field.
        event, name_field, status_field = self.finished_event
        notify(
            self,
            "JobFinished",
            self.topic,
            detail_type=event,
            name_field=name_field,
            status_field=status_field,
            name=[p["JobName"]],
            statuses=FINISHED,
            what=self.what,
        )


class TrainingJobStack(_BuiltinTrainingStack):
    """Training job with a SageMaker built-in algorithm, notified to SNS when it finishes."""

    blueprint = TRAINING
    job_kind = "TrainingJob"
    job_resource = "training-job"
    create_action = "sagemaker:CreateTrainingJob"
    output_prefix = "Training"
    finished_event = ("SageMaker Training Job State Change", "TrainingJobName", "TrainingJobStatus")
    what = "training job"


class HyperparameterTuningStack(_BuiltinTrainingStack):
    """Hyperparameter tuning job with a SageMaker built-in algorithm, notified to SNS when it finishes."""

    blueprint = TUNER
    job_kind = "HyperparameterTuningJob"
    job_resource = "hyper-parameter-tuning-job"
    create_action = "sagemaker:CreateHyperParameterTuningJob"
    output_prefix = "HyperparameterTuning"
    finished_event = (
        "SageMaker HyperParameter Tuning Job State Change",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
    )
    what = "hyperparameter tuning job"


class AutopilotJobStack(_JobStack):
    """Autopilot (AutoML V2) job on a tabular data set, its sub-jobs notified to SNS."""

    blueprint = AUTOPILOT
    job_kind = "AutopilotJob"
    job_resource = "automl-job"
    create_action = "sagemaker:CreateAutoMLJobV2"
    output_prefix = "Autopilot"
    # Autopilot infers the problem type when none is given.

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        p = self.p
        prefix = f"{p['JobName']}-"
        # Autopilot runs its work as processing, training, tuning and transform jobs named after it.
        sub_jobs = [
            sagemaker_arn(f"{kind}/{p['JobName']}*")
            for kind in ("processing-job", "training-job", "transform-job", "hyper-parameter-tuning-job", "model")
        ]
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:CreateTransformJob",
                    "sagemaker:DescribeTransformJob",
                    "sagemaker:StopTransformJob",
                    "sagemaker:CreateHyperParameterTuningJob",
                    "sagemaker:DescribeHyperParameterTuningJob",
                    "sagemaker:StopHyperParameterTuningJob",
                    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                    "sagemaker:CreateModel",
                    "sagemaker:DescribeModel",
                    "sagemaker:DeleteModel",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=sub_jobs,
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeAutoMLJobV2"],
                resources=[sagemaker_arn(f"automl-job/{p['JobName']}")],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        for kind in ("ProcessingJobs", "TrainingJobs", "TransformJobs"):
            allow_job_logs(self.role, kind)
        acknowledge(
            self.role,
            *(
                (
                    f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                    f"{kind}/<JobName>*]",
                    "Autopilot names its candidate jobs and models at run time with the Autopilot job's name first",
                )
                for kind in ("processing-job", "training-job", "transform-job", "hyper-parameter-tuning-job", "model")
            ),
            *(
                (
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                    f"/aws/sagemaker/{kind}:*]",
                    f"SageMaker names each job's log stream at run time inside the {kind} log group",
                )
                for kind in ("ProcessingJobs", "TrainingJobs", "TransformJobs")
            ),
        )
        # Autopilot itself sends no events: report the jobs it runs, as the predecessor did.
        notify(
            self,
            "TuningFinished",
            self.topic,
            detail_type="SageMaker HyperParameter Tuning Job State Change",
            name_field="HyperParameterTuningJobName",
            status_field="HyperParameterTuningJobStatus",
            name=[{"prefix": prefix}],
            statuses=FINISHED,
            what="Autopilot tuning job",
        )
        for construct_id, detail_type, field, what in (
            ("ProcessingFailed", "SageMaker Processing Job State Change", "ProcessingJob", "Autopilot processing job"),
            ("TrainingFailed", "SageMaker Training Job State Change", "TrainingJob", "Autopilot training job"),
            ("TransformFailed", "SageMaker Transform Job State Change", "TransformJob", "Autopilot transform job"),
        ):
            notify(
                self,
                construct_id,
                self.topic,
                detail_type=detail_type,
                name_field=f"{field}Name",
                status_field=f"{field}Status",
                name=[{"prefix": prefix}],
                statuses=["Failed", "Stopped"],
                what=what,
            )


TRAINING_STACKS = {
    stack.blueprint.template: stack for stack in (TrainingJobStack, HyperparameterTuningStack, AutopilotJobStack)
}
