# SPDX-License-Identifier: Apache-2.0
"""The four model-monitor blueprints: a baseline job, then its job definition and monitoring schedule.

The baseline job is started by a custom resource that completes only when the job has finished and left
its constraints; the job definition depends on it, so no schedule ever points at a missing baseline. A
failed baseline fails the stack with the job's own failure reason.
"""

from __future__ import annotations

from typing import Any, ClassVar

from aws_cdk import Aws, CfnCondition, CfnOutput, CfnResource, Fn, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infrastructure.blueprints.functions import (
    KMS_FOR_JOBS,
    KMS_USE,
    JobResource,
    allow_job_logs,
    if_provided,
    in_own_account,
    kms_policy,
    provided,
    s3_arn,
    sagemaker_arn,
    sagemaker_role,
)
from infrastructure.blueprints.network import declare_network
from infrastructure.blueprints.parameters import declare_parameters
from infrastructure.checkov import skip_checks
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.catalogue import (
    DATA_QUALITY,
    MODEL_BIAS,
    MODEL_EXPLAINABILITY,
    MODEL_QUALITY,
)
from lambdas.pipeline_orchestration.monitoring import ALARM_SUFFIX
from lambdas.pipeline_orchestration.monitoring import DIMENSION as SCHEDULE_DIMENSION
from lambdas.pipeline_orchestration.monitoring import METRIC as VIOLATIONS_METRIC
from lambdas.pipeline_orchestration.monitoring import NAMESPACE as VIOLATIONS_NAMESPACE
from lambdas.pipeline_orchestration.spec import Blueprint

ENDPOINT_INPUT_PATH = "/opt/ml/processing/input/endpoint"
# Model Monitor's and Clarify's containers publish their metrics to CloudWatch (aws/sagemaker/Endpoints/...)
# only when told to; every job definition type takes the setting in its app specification's environment.
METRICS_ENVIRONMENT = {"publish_cloudwatch_metrics": "Enabled"}
OUTPUT_PATH = "/opt/ml/processing/output"


class ModelMonitorStack(Stack):
    """What every monitor shares; subclasses name the monitor type and its own inputs."""

    blueprint: ClassVar[Blueprint]
    monitor_type: ClassVar[str]  # CloudFormation MonitoringType and our baseline Lambda's MonitorType
    baseline_files: ClassVar[tuple[str, ...]]
    clarify: ClassVar[bool] = False
    ground_truth: ClassVar[bool] = False

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=self.__doc__, **kwargs)
        p = self.p = declare_parameters(self, self.blueprint)
        self.kms = provided(self, "KmsKeyProvided", p["KmsKeyArn"])
        self.output_uri = f"s3://{p['BaselineJobOutputLocation']}"
        self.role = self._sagemaker_role()
        self.network = declare_network(self, p)
        vpc_access = self.network.grant(self.role, "MonitorVpcAccess")
        self.baseline = JobResource(
            self,
            "Baseline",
            blueprint_bucket=p["BlueprintBucket"],
            resource_type="Custom::BaselineJob",
            properties={
                "JobKind": "Baseline",
                "MonitorType": self.monitor_type,
                "JobName": p["BaselineJobName"],
                "ImageUri": p["ImageUri"],
                "RoleArn": self.role.role_arn,
                "AssetsBucket": p["AssetsBucket"],
                "BaselineData": p["BaselineData"],
                "OutputLocation": p["BaselineJobOutputLocation"],
                "InstanceType": p["InstanceType"],
                "InstanceVolumeSize": p["InstanceVolumeSize"],
                "MaxRuntimeSeconds": p["BaselineMaxRuntimeSeconds"],
                "KmsKeyArn": p["KmsKeyArn"],
                "EndpointName": p["EndpointName"],
                "SubnetIds": p["SubnetIds"],
                "SecurityGroupIds": p["SecurityGroupIds"],
                "EnableNetworkIsolation": p["EnableNetworkIsolation"],
                "EncryptInterContainerTraffic": p["EncryptInterContainerTraffic"],
                **self.baseline_properties(),
            },
            wait=True,
        )
        self._grant_lambdas()
        # The baseline job runs with the role's policies in place (the role itself is referenced already).
        self.baseline.depend_on(self.role.node.find_child("DefaultPolicy"), self.role_kms, vpc_access)
        self.definition_name: str | None = None
        self.schedule_resources()
        # The orchestrator publishes each execution's violations count; this alarm's change to ALARM reaches it
        # through EventBridge (it notifies and, when asked, retrains), so the alarm needs no action of its own.
        CfnResource(
            self,
            "ViolationsAlarm",
            type="AWS::CloudWatch::Alarm",
            properties={
                "AlarmName": f"{Aws.STACK_NAME}{ALARM_SUFFIX}",
                "AlarmDescription": "Constraint violations found by a monitoring execution of this monitor",
                "Namespace": VIOLATIONS_NAMESPACE,
                "MetricName": VIOLATIONS_METRIC,
                "Dimensions": [{"Name": SCHEDULE_DIMENSION, "Value": p["MonitoringScheduleName"]}],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": p["ViolationThreshold"],
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "notBreaching",
            },
        )
        CfnOutput(self, "BaselineName", value=p["BaselineJobName"], description="Baseline processing job")
        CfnOutput(self, "BaselineJobOutput", value=self.output_uri, description="Baseline job output")
        CfnOutput(self, "MonitoringScheduleJobName", value=p["MonitoringScheduleName"], description="Schedule")
        CfnOutput(self, "MonitoringScheduleType", value=self.monitor_type, description="Monitoring type")
        if self.definition_name is not None:
            CfnOutput(self, "MonitoringJobDefinitionName", value=self.definition_name, description="Job definition")
        CfnOutput(
            self,
            "MonitoringScheduleOutput",
            value=f"s3://{p['MonitoringOutputLocation']}/{p['EndpointName']}/{p['MonitoringScheduleName']}",
            description="Where the monitoring reports are written",
        )
        CfnOutput(self, "MonitoredSagemakerEndpoint", value=p["EndpointName"], description="Monitored endpoint")
        CfnOutput(self, "DataCaptureS3Location", value=f"s3://{p['DataCaptureLocation']}", description="Capture")

    # -- per engine ----------------------------------------------------------------------------------------

    def schedule_resources(self) -> None:
        """Model Monitor's or Clarify's job definition and monitoring schedule."""
        p = self.p
        encrypt = CfnCondition(
            self,
            "InterContainerTrafficEncrypted",
            expression=Fn.condition_equals(p["EncryptInterContainerTraffic"], "True"),
        )
        definition = CfnResource(
            self,
            "JobDefinition",
            type=f"AWS::SageMaker::{self.monitor_type}JobDefinition",
            properties={
                "EndpointName": p["EndpointName"],
                f"{self.monitor_type}AppSpecification": {
                    **self.app_specification(),
                    "Environment": METRICS_ENVIRONMENT,
                },
                f"{self.monitor_type}BaselineConfig": {
                    "ConstraintsResource": {"S3Uri": f"{self.output_uri}/{self.baseline_files[0]}"},
                    **self.extra_baseline_config(),
                },
                f"{self.monitor_type}JobInput": self.job_input(),
                f"{self.monitor_type}JobOutputConfig": {
                    "MonitoringOutputs": [
                        {
                            "S3Output": {
                                "LocalPath": OUTPUT_PATH,
                                "S3Uri": f"s3://{p['MonitoringOutputLocation']}",
                                "S3UploadMode": "EndOfJob",
                            }
                        }
                    ],
                    "KmsKeyId": if_provided(self.kms, p["KmsKeyArn"]),
                },
                "JobResources": {
                    "ClusterConfig": {
                        "InstanceCount": 1,
                        "InstanceType": p["InstanceType"],
                        "VolumeSizeInGB": p["InstanceVolumeSize"],
                        "VolumeKmsKeyId": if_provided(self.kms, p["KmsKeyArn"]),
                    }
                },
                "NetworkConfig": {
                    "EnableInterContainerTrafficEncryption": Fn.condition_if(encrypt.logical_id, True, False),
                    "EnableNetworkIsolation": self.network.isolation(),
                    "VpcConfig": self.network.vpc_config(),
                },
                "RoleArn": self.role.role_arn,
                "StoppingCondition": {"MaxRuntimeInSeconds": p["MonitorMaxRuntimeSeconds"]},
                "Tags": [{"Key": "stack_name", "Value": Aws.STACK_NAME}],
            },
        )
        skip_checks(
            definition,
            (
                "CKV_AWS_369",
                "Traffic between the job's instances is encrypted unless the request turns it off "
                "(encrypt_inter_container_traffic, default true); the monitoring jobs run on one instance",
            ),
        )
        # Only once the baseline has finished do its constraints exist for the definition to point at.
        definition.node.add_dependency(self.baseline.resource)
        definition_name = self.definition_name = Fn.select(
            1, Fn.split("/", definition.get_att("JobDefinitionArn").to_string())
        )
        schedule = CfnResource(
            self,
            "MonitoringSchedule",
            type="AWS::SageMaker::MonitoringSchedule",
            properties={
                "MonitoringScheduleName": p["MonitoringScheduleName"],
                "MonitoringScheduleConfig": {
                    "MonitoringJobDefinitionName": definition_name,
                    "MonitoringType": self.monitor_type,
                    "ScheduleConfig": {"ScheduleExpression": p["ScheduleExpression"]},
                },
                "Tags": [{"Key": "stack_name", "Value": Aws.STACK_NAME}],
            },
        )
        schedule.node.add_dependency(self.role)

    # -- per monitor type -------------------------------------------------------------------------------

    def baseline_properties(self) -> dict[str, Any]:
        return {}

    def app_specification(self) -> dict[str, Any]:
        return {"ImageUri": self.p["ImageUri"]}

    def extra_baseline_config(self) -> dict[str, Any]:
        return {}

    def endpoint_attributes(self) -> dict[str, Any]:
        return {}

    def job_input(self) -> dict[str, Any]:
        job_input: dict[str, Any] = {
            "EndpointInput": {
                "EndpointName": self.p["EndpointName"],
                "LocalPath": ENDPOINT_INPUT_PATH,
                "S3DataDistributionType": "FullyReplicated",
                "S3InputMode": "File",
                **self.endpoint_attributes(),
            }
        }
        if self.ground_truth:
            job_input["GroundTruthS3Input"] = {"S3Uri": f"s3://{self.p['MonitorGroundTruthInput']}"}
        return job_input

    def optional(self, condition_id: str, parameter: str) -> Any:
        """The parameter's value, or no property at all when the parameter is empty."""
        condition = self.node.try_find_child(condition_id)
        if condition is None:
            condition = provided(self, condition_id, self.p[parameter])
        assert isinstance(condition, CfnCondition)
        return if_provided(condition, self.p[parameter])

    # -- IAM ----------------------------------------------------------------------------------------------

    def _sagemaker_role(self) -> iam.Role:
        p = self.p
        role = sagemaker_role(self, "MonitorRole", f"Runs the {self.monitor_type} baseline and monitoring jobs")
        # The baseline data is a key of the orchestrator's assets bucket (in multi-account mode another account's);
        # every other location is the request's, and read or written only in the role's own account.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[s3_arn(f"{p['AssetsBucket']}/{p['BaselineData']}")]
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[s3_arn(p["AssetsBucket"])]))
        read = [s3_arn(f"{p['DataCaptureLocation']}/*"), s3_arn(f"{p['BaselineJobOutputLocation']}/*")]
        buckets = [p["DataCaptureBucket"], p["BaselineOutputBucket"], self._monitoring_bucket()]
        if self.ground_truth:
            read.append(s3_arn(f"{p['MonitorGroundTruthInput']}/*"))
            buckets.append(p["GroundTruthBucket"])
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=read, conditions=in_own_account()))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[s3_arn(f"{p['BaselineJobOutputLocation']}/*"), s3_arn(f"{p['MonitoringOutputLocation']}/*")],
                conditions=in_own_account(),
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[s3_arn(b) for b in buckets], conditions=in_own_account()
            )
        )
        allow_job_logs(role, "ProcessingJobs")
        if self.clarify:
            # Clarify computes its analysis on a temporary shadow endpoint of the monitored model.
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=[
                        "sagemaker:CreateEndpoint",
                        "sagemaker:CreateEndpointConfig",
                        "sagemaker:DeleteEndpoint",
                        "sagemaker:DeleteEndpointConfig",
                        "sagemaker:DescribeEndpoint",
                        "sagemaker:DescribeEndpointConfig",
                        "sagemaker:InvokeEndpoint",
                        "sagemaker:AddTags",
                    ],
                    resources=[sagemaker_arn("endpoint/sm-clarify-*"), sagemaker_arn("endpoint-config/sm-clarify-*")],
                )
            )
        self.role_kms = kms_policy(self, "MonitorRoleKms", role, p["KmsKeyArn"], self.kms, KMS_FOR_JOBS)
        acknowledge(
            role,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<DataCaptureLocation>/*]",
                "Data capture writes one object per hour under the endpoint's capture prefix; the job reads them all",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<BaselineJobOutputLocation>/*]",
                "The baseline job writes its constraints and statistics under its own output prefix",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<MonitoringOutputLocation>/*]",
                "Each monitoring execution writes its report under a new dated key of the monitoring prefix",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                "/aws/sagemaker/ProcessingJobs:*]",
                "SageMaker names each job's log stream at run time inside the ProcessingJobs log group",
            ),
            (
                "AwsSolutions-IAM5[Resource::*]",
                "cloudwatch:PutMetricData has no resource type; the statement is limited to SageMaker namespaces",
            ),
        )
        if self.ground_truth:
            acknowledge(
                role,
                (
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<MonitorGroundTruthInput>/*]",
                    "Ground-truth labels are uploaded by the user under dated keys of this prefix",
                ),
            )
        if self.clarify:
            acknowledge(
                role,
                (
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                    "endpoint/sm-clarify-*]",
                    "Clarify names its temporary shadow endpoint sm-clarify-<model>-<timestamp> at run time",
                ),
                (
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                    "endpoint-config/sm-clarify-*]",
                    "Clarify names the shadow endpoint's configuration sm-clarify-<model>-<timestamp> at run time",
                ),
            )
        return role

    def _monitoring_bucket(self) -> str:
        return Fn.select(0, Fn.split("/", self.p["MonitoringOutputLocation"]))

    def _grant_lambdas(self) -> None:
        p = self.p
        job_arn = sagemaker_arn(f"processing-job/{p['BaselineJobName']}")
        starter, poller = self.baseline.starter.role, self.baseline.poller.role  # type: ignore[union-attr]
        starter.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                ],
                resources=[job_arn],
            )
        )
        starter.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        starter.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[s3_arn(f"{p['AssetsBucket']}/{p['BaselineData']}")]
            )
        )
        self.baseline.depend_on(kms_policy(self, "StarterKms", starter, p["KmsKeyArn"], self.kms, KMS_USE))
        if self.clarify:
            starter.add_to_policy(
                iam.PolicyStatement(
                    actions=["s3:PutObject"],
                    resources=[
                        s3_arn(f"{p['BaselineJobOutputLocation']}/analysis_config.json"),
                        s3_arn(f"{p['BaselineJobOutputLocation']}/monitor/analysis_config.json"),
                    ],
                    conditions=in_own_account(),
                )
            )
            starter.add_to_policy(
                iam.PolicyStatement(
                    actions=["sagemaker:DescribeEndpoint"], resources=[sagemaker_arn(f"endpoint/{p['EndpointName']}")]
                )
            )
            starter.add_to_policy(
                iam.PolicyStatement(
                    actions=["sagemaker:DescribeEndpointConfig"], resources=[sagemaker_arn("endpoint-config/*")]
                )
            )
            acknowledge(
                starter,
                (
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                    "endpoint-config/*]",
                    "The endpoint's configuration name is only known from DescribeEndpoint at run time; "
                    "the action only reads it",
                ),
            )
        poller.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob"], resources=[job_arn]
            )
        )
        poller.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[s3_arn(f"{p['BaselineJobOutputLocation']}/{name}") for name in self.baseline_files],
                conditions=in_own_account(),
            )
        )
        # Without ListBucket a missing constraints file reads as 403 rather than 404.
        poller.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[s3_arn(p["BaselineOutputBucket"])], conditions=in_own_account()
            )
        )
        self.baseline.depend_on(
            kms_policy(self, "PollerKms", poller, p["KmsKeyArn"], self.kms, ["kms:Decrypt", "kms:DescribeKey"])
        )


class DataQualityMonitorStack(ModelMonitorStack):
    """Data-quality baseline (Model Monitor analyzer) and its monitoring schedule."""

    blueprint = DATA_QUALITY
    monitor_type = "DataQuality"
    baseline_files = ("constraints.json", "statistics.json")

    def extra_baseline_config(self) -> dict[str, Any]:
        return {"StatisticsResource": {"S3Uri": f"{self.output_uri}/statistics.json"}}


class ModelQualityMonitorStack(ModelMonitorStack):
    """Model-quality baseline (Model Monitor analyzer) and its monitoring schedule."""

    blueprint = MODEL_QUALITY
    monitor_type = "ModelQuality"
    baseline_files = ("constraints.json",)
    ground_truth = True

    def baseline_properties(self) -> dict[str, Any]:
        p = self.p
        return {
            "ProblemType": p["ProblemType"],
            "InferenceAttribute": p["BaselineInferenceAttribute"],
            "ProbabilityAttribute": p["BaselineProbabilityAttribute"],
            "GroundTruthAttribute": p["BaselineGroundTruthAttribute"],
            "ProbabilityThresholdAttribute": p["ProbabilityThresholdAttribute"],
        }

    def app_specification(self) -> dict[str, Any]:
        return {"ImageUri": self.p["ImageUri"], "ProblemType": self.p["ProblemType"]}

    def endpoint_attributes(self) -> dict[str, Any]:
        return {
            "InferenceAttribute": self.optional("InferenceAttributeProvided", "MonitorInferenceAttribute"),
            "ProbabilityAttribute": self.optional("ProbabilityAttributeProvided", "MonitorProbabilityAttribute"),
            "ProbabilityThresholdAttribute": self.optional("ThresholdProvided", "ProbabilityThresholdAttribute"),
        }


class ClarifyMonitorStack(ModelMonitorStack):
    clarify = True
    baseline_files = ("analysis.json",)

    def app_specification(self) -> dict[str, Any]:
        return {"ImageUri": self.p["ImageUri"], "ConfigUri": f"{self.output_uri}/monitor/analysis_config.json"}


class ModelBiasMonitorStack(ClarifyMonitorStack):
    """Clarify bias baseline and its monitoring schedule."""

    blueprint = MODEL_BIAS
    monitor_type = "ModelBias"
    ground_truth = True

    def baseline_properties(self) -> dict[str, Any]:
        p = self.p
        return {
            "ProblemType": p["ProblemType"],
            "BiasConfig": p["BiasConfig"],
            "ModelPredictedLabelConfig": p["ModelPredictedLabelConfig"],
        }

    def endpoint_attributes(self) -> dict[str, Any]:
        return {
            "FeaturesAttribute": self.optional("FeaturesAttributeProvided", "FeaturesAttribute"),
            "InferenceAttribute": self.optional("InferenceAttributeProvided", "MonitorInferenceAttribute"),
            "ProbabilityAttribute": self.optional("ProbabilityAttributeProvided", "MonitorProbabilityAttribute"),
            "ProbabilityThresholdAttribute": self.optional("ThresholdProvided", "ProbabilityThresholdAttribute"),
        }


class ModelExplainabilityMonitorStack(ClarifyMonitorStack):
    """Clarify explainability (SHAP) baseline and its monitoring schedule."""

    blueprint = MODEL_EXPLAINABILITY
    monitor_type = "ModelExplainability"

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # A SHAP baseline given as a file: the role reads that one object of the assets bucket (ShapBaselineKey).
        baseline = provided(self, "ShapBaselineProvided", self.p["ShapBaselineKey"])
        policy = iam.Policy(
            self,
            "ShapBaselineRead",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[s3_arn(f"{self.p['AssetsBucket']}/{self.p['ShapBaselineKey']}")],
                )
            ],
        )
        policy.node.default_child.cfn_options.condition = baseline  # type: ignore[union-attr]
        self.baseline.depend_on(policy)

    def baseline_properties(self) -> dict[str, Any]:
        p = self.p
        return {
            "ProblemType": p["ProblemType"],
            "SHAPConfig": p["SHAPConfig"],
            "ModelScores": p["ExplainabilityModelScores"],
            # Explainability has no threshold (its endpoint input takes none); kept with the baseline's inputs
            # so that the predecessor's parameter set stays whole and a change is still seen.
            "ProbabilityThresholdAttribute": p["ProbabilityThresholdAttribute"],
        }

    def endpoint_attributes(self) -> dict[str, Any]:
        return {
            "FeaturesAttribute": self.optional("FeaturesAttributeProvided", "FeaturesAttribute"),
            "InferenceAttribute": self.optional("InferenceAttributeProvided", "MonitorInferenceAttribute"),
            "ProbabilityAttribute": self.optional("ProbabilityAttributeProvided", "MonitorProbabilityAttribute"),
        }


MONITOR_STACKS = {
    stack.blueprint.template: stack
    for stack in (
        DataQualityMonitorStack,
        ModelQualityMonitorStack,
        ModelBiasMonitorStack,
        ModelExplainabilityMonitorStack,
    )
}
