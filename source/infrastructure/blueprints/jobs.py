# SPDX-License-Identifier: Apache-2.0
"""Pieces shared by the monitor and training blueprints: parameters declared from the catalogue, the job
Lambdas (code from the blueprints bucket) and the custom resource that starts a job, optionally waiting
for it through a Step Functions loop.

Everything here is self-contained CloudFormation (no CDK asset): a blueprint template deploys with
nothing but its parameters and the Lambda zip in the blueprints bucket.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import (
    Aws,
    CfnCondition,
    CfnParameter,
    CfnResource,
    CustomResource,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infrastructure.blueprints.parameters import PARAMETERS as SHARED_PARAMETERS
from infrastructure.boundary import PARAMETER as BOUNDARY_PARAMETER
from infrastructure.boundary import bound_every_role
from infrastructure.distribution import blueprint_lambdas_key
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.catalogue import PROBLEM_TYPES
from lambdas.pipeline_orchestration.spec import Blueprint

# The zip (the `lambdas/` package tree) the build puts in the blueprints bucket for every job Lambda.
RUNTIME = lambda_.Runtime.PYTHON_3_14
NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"
LOWER_NAME = r"^[a-z0-9](-*[a-z0-9])*$"
BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
KMS_ARN = r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[a-zA-Z0-9/_-]+)?$"
TRUE_FALSE = ["True", "False"]


def _text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "String", "description": description, **extra}


def _number(description: str, low: int, high: int, **extra: Any) -> dict[str, Any]:
    return {"type": "Number", "description": description, "min_value": low, "max_value": high, **extra}


def _bucket(description: str) -> dict[str, Any]:
    return _text(description, allowed_pattern=BUCKET, constraint_description="must be an S3 bucket name")


def _location(description: str) -> dict[str, Any]:
    return _text(description, min_length=3, constraint_description="must be bucket/prefix")


# Every parameter the monitor and training blueprints declare, with its constraints. The names come from
# the catalogue's Blueprint tuples; a name missing here fails synthesis.
PARAMETERS: dict[str, dict[str, Any]] = {
    "AssetsBucket": _bucket("Bucket of the solution's assets (data, baselines, outputs)"),
    "BlueprintBucket": _bucket("Bucket holding the blueprints and their Lambda code"),
    "KmsKeyArn": _text(
        "Optional KMS key for outputs and volumes", allowed_pattern=KMS_ARN, constraint_description="a KMS key ARN"
    ),
    "BaselineJobName": _text("Name of the baseline processing job", min_length=3, max_length=63, allowed_pattern=NAME),
    "BaselineOutputBucket": _bucket("Bucket of the baseline job's output"),
    "BaselineJobOutputLocation": _location("bucket/prefix/<baseline job name> of the baseline job's output"),
    "DataCaptureBucket": _bucket("Bucket of the endpoint's captured data"),
    "DataCaptureLocation": _location("bucket/prefix of the endpoint's captured data"),
    "EndpointName": _text("Endpoint to monitor", min_length=1, max_length=63, allowed_pattern=NAME),
    "ImageUri": _text("Image of the job", min_length=1),
    "InstanceType": _text(
        "Instance type of the jobs",
        allowed_pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$",
        constraint_description="must be a SageMaker instance type such as ml.m5.large",
    ),
    "InstanceVolumeSize": _number("Volume size (GB) of each instance", 1, 16384),
    "BaselineMaxRuntimeSeconds": _text(
        "Optional maximum runtime (seconds) of the baseline job", allowed_pattern=r"^(\d{1,5})?$"
    ),
    "MonitorMaxRuntimeSeconds": _number("Maximum runtime (seconds) of each monitoring job", 1, 86400, default=1800),
    "MonitoringOutputLocation": _location("bucket/prefix of the monitoring reports"),
    "MonitoringScheduleName": _text(
        "Name of the monitoring schedule", min_length=3, max_length=63, allowed_pattern=NAME
    ),
    "ScheduleExpression": _text(
        "Cron expression of the schedule, e.g. cron(0 * ? * * *)",
        allowed_pattern=r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$",
        constraint_description="must be cron( followed by six fields and )",
    ),
    "BaselineData": _text("Key of the baseline CSV (with header) in the assets bucket", min_length=1),
    "BaselineInferenceAttribute": _text("Column of the predictions in the baseline data", default=""),
    "BaselineProbabilityAttribute": _text("Column of the probabilities in the baseline data", default=""),
    "BaselineGroundTruthAttribute": _text("Column of the ground truth in the baseline data", default=""),
    "ProblemType": _text("Problem type of the model", allowed_values=list(PROBLEM_TYPES)),
    "MonitorInferenceAttribute": _text("Index or JSONPath of the prediction in the endpoint output", default=""),
    "MonitorProbabilityAttribute": _text("Index or JSONPath of the probability in the endpoint output", default=""),
    # No default: the template validator would read '' as the job definition's (numeric) threshold.
    "ProbabilityThresholdAttribute": _text(
        "Threshold that turns a probability into a label (may be empty)", allowed_pattern=r"^(\d*\.?\d+)?$"
    ),
    "GroundTruthBucket": _bucket("Bucket of the ground-truth labels"),
    "MonitorGroundTruthInput": _location("bucket/prefix of the ground-truth labels"),
    "ModelPredictedLabelConfig": _text("Clarify ModelPredictedLabelConfig as JSON", default=""),
    "BiasConfig": _text("Clarify BiasConfig as JSON", min_length=2),
    "SHAPConfig": _text("Clarify SHAPConfig as JSON", min_length=2),
    "ExplainabilityModelScores": _text("Index or JSONPath (as JSON) of the score to explain", default=""),
    "FeaturesAttribute": _text("JSONPath or index of the features in the endpoint input", default=""),
    "NotificationsSNSTopicArn": _text(
        "SNS topic told when the job finishes", allowed_pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$"
    ),
    "JobName": _text("Name of the job", min_length=1, max_length=63, allowed_pattern=LOWER_NAME),
    "JobOutputLocation": _text("Prefix in the assets bucket for the job's output", min_length=1, max_length=128),
    "TrainingData": _text("Key or prefix of the training data in the assets bucket", min_length=1, max_length=128),
    "ValidationData": _text("Optional key of the validation data in the assets bucket", max_length=128, default=""),
    "EncryptInnerTraffic": _text("Encrypt traffic between containers", allowed_values=TRUE_FALSE, default="True"),
    "MaxRuntimePerJob": _number("Maximum runtime (seconds) of one training job", 600, 259200, default=86400),
    "CompressionType": _text("Compression of the input data", allowed_values=["", "Gzip"], default=""),
    "JobInstanceCount": _number("Number of training instances", 1, 100, default=1),
    "UseSpotInstances": _text("Use managed spot training", allowed_values=TRUE_FALSE, default="True"),
    "MaxWaitTimeForSpotInstances": _number("Maximum wait (seconds) for spot capacity", 1, 259200, default=172800),
    "ContentType": _text("MIME type of the training data", default="csv"),
    "S3DataType": _text(
        "S3 data type", allowed_values=["S3Prefix", "ManifestFile", "AugmentedManifestFile"], default="S3Prefix"
    ),
    "DataDistribution": _text(
        "Distribution of the data", allowed_values=["FullyReplicated", "ShardedByS3Key"], default="FullyReplicated"
    ),
    "DataInputMode": _text("Input mode", allowed_values=["File", "Pipe", "FastFile"], default="File"),
    "DataRecordWrapping": _text("Record wrapping", allowed_values=["", "RecordIO"], default=""),
    "AttributeNames": _text("JSON list of attribute names (AugmentedManifestFile)", default=""),
    "AlgoHyperparameteres": _text("Hyperparameters of the algorithm as JSON", min_length=2),
    "HyperparametersTunerConfig": _text("Tuner settings as JSON", min_length=2),
    "AlgoHyperparameteresRange": _text("Hyperparameter ranges as JSON", min_length=2),
    "AutopilotJobObjective": _text(
        "Metric to optimize", allowed_values=["", "Accuracy", "MSE", "F1", "F1macro", "AUC"], default=""
    ),
    "TargetAttribute": _text("Name of the target column", min_length=1),
    "AutopilotMaxCandidates": _number("Maximum number of candidates", 1, 750, default=10),
    "AutopilotTotalRuntime": _number("Maximum runtime (seconds) of the whole job", 3600, 2592000, default=2592000),
    "GenerateDefinitionsOnly": _text("Only generate candidate definitions", allowed_values=TRUE_FALSE, default="False"),
}


def declare_parameters(
    stack: Stack, blueprint: Blueprint, overrides: dict[str, dict[str, Any]] | None = None
) -> dict[str, str]:
    """Declare the blueprint's CfnParameters (exactly the catalogue's names); returns name -> Ref token."""
    refs = {}
    for name in blueprint.parameters:
        if name == BOUNDARY_PARAMETER:
            # The same definition, and the same effect, as in every other blueprint.
            boundary = CfnParameter(stack, name, **SHARED_PARAMETERS[name])
            bound_every_role(stack, boundary)
            refs[name] = boundary.value_as_string
            continue
        spec = {**PARAMETERS[name], **(overrides or {}).get(name, {})}
        refs[name] = CfnParameter(stack, name, **spec).value_as_string
    return refs


def provided(stack: Stack, name: str, value: str) -> CfnCondition:
    """A condition true when a parameter is not empty."""
    return CfnCondition(stack, name, expression=Fn.condition_not(Fn.condition_equals(value, "")))


def if_provided(condition: CfnCondition, value: Any) -> Any:
    return Fn.condition_if(condition.logical_id, value, Aws.NO_VALUE)


def s3_arn(path: str) -> str:
    return f"arn:{Aws.PARTITION}:s3:::{path}"


def bucket_of(location: str) -> str:
    """The bucket of a bucket/prefix parameter."""
    return Fn.select(0, Fn.split("/", location))


def sagemaker_arn(resource: str) -> str:
    return f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


def kms_policy(
    scope: Construct, construct_id: str, role: iam.IRole, key_arn: str, condition: CfnCondition, actions: list[str]
) -> iam.Policy:
    """A policy on the given KMS key that exists only when a key is given."""
    policy = iam.Policy(
        scope,
        construct_id,
        roles=[role],
        statements=[iam.PolicyStatement(actions=actions, resources=[key_arn])],
    )
    policy.node.default_child.cfn_options.condition = condition  # type: ignore[union-attr]
    return policy


KMS_USE = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
]
KMS_FOR_JOBS = [*KMS_USE, "kms:CreateGrant"]


def sagemaker_role(scope: Construct, construct_id: str, description: str) -> iam.Role:
    return iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description=description,
    )


def allow_job_logs(role: iam.Role, kind: str) -> None:
    """Logs and metrics of SageMaker jobs (`kind`: ProcessingJobs, TrainingJobs, ...)."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[
                f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/{kind}",
                f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/{kind}:*",
            ],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            # PutMetricData has no resource; the namespace condition limits it to SageMaker's.
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": ["aws/sagemaker/*", "/aws/sagemaker/*"]}},
        )
    )


class JobFunction(Construct):
    """A job Lambda: code from the blueprints bucket, its own role and log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        blueprint_bucket: str,
        handler: str,
        description: str,
        timeout: Duration,
        environment: dict[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                # The log group's Arn attribute already ends in ':*' (its streams).
                resources=[self.log_group.log_group_arn],
            )
        )
        bucket = s3.Bucket.from_bucket_name(self, "Code", blueprint_bucket)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=lambda_.Code.from_bucket(bucket, blueprint_lambdas_key()),
            description=description,
            timeout=timeout,
            memory_size=256,
            # An immutable view of the role: CDK would otherwise make the function depend on the role it
            # already references (a cfn-lint W3005); the job resource waits for the policies instead.
            role=iam.Role.from_role_arn(self, "RoleRef", self.role.role_arn, mutable=False),
            log_group=self.log_group,
            environment={"LOG_LEVEL": "INFO", **(environment or {})},
        )


class JobResource(Construct):
    """Custom resource that starts a job; with `wait`, it completes only when the job has finished."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        blueprint_bucket: str,
        resource_type: str,
        properties: dict[str, Any],
        wait: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        environment = {}
        self._conditional: list[Any] = []
        self.waiter_role: iam.Role | None = None
        self.waiter: sfn.StateMachine | None = None
        self.poller: JobFunction | None = None
        if wait:
            self.poller = JobFunction(
                self,
                "Poller",
                blueprint_bucket=blueprint_bucket,
                handler="lambdas.blueprints.job_resource.poll",
                description="Checks whether the baseline job has finished and answers CloudFormation",
                timeout=Duration.minutes(1),
            )
            self.waiter = self._waiter(self.poller.function)
            environment["WAITER_STATE_MACHINE_ARN"] = self.waiter.state_machine_arn
        self.starter = JobFunction(
            self,
            "Starter",
            blueprint_bucket=blueprint_bucket,
            handler="lambdas.blueprints.job_resource.on_event",
            description=f"Starts the {resource_type.removeprefix('Custom::')} of this stack",
            timeout=Duration.minutes(5),
            environment=environment,
        )
        if self.waiter is not None:
            self.waiter.grant_start_execution(self.starter.role)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.starter.function.function_arn,
            resource_type=resource_type,
            properties={
                **properties,
                "StackName": Aws.STACK_NAME,
            },
            service_timeout=Duration.hours(1) if wait else Duration.minutes(10),
        )
        # The job starts only once every role it relies on carries its policies.
        self.depend_on(self.starter.role)
        if self.poller is not None:
            self.depend_on(self.poller.role, self.waiter_role)

    def depend_on(self, *constructs: Construct) -> None:
        """Start the job only after these (roles, policies) exist."""
        for construct in constructs:
            cfn = construct.node.default_child if isinstance(construct, iam.Policy) else None
            condition = cfn.cfn_options.condition if isinstance(cfn, CfnResource) else None
            if condition is None:
                self.resource.node.add_dependency(construct)
            else:
                self._conditional.append(Fn.condition_if(condition.logical_id, cfn.ref, Aws.NO_VALUE))  # type: ignore[union-attr]
                # Refs to conditional policies: CloudFormation cannot DependsOn a resource that may not exist.
                resource = self.resource.node.default_child
                assert isinstance(resource, CfnResource)
                resource.add_property_override("WaitsFor", list(self._conditional))

    def _waiter(self, poller: lambda_.IFunction) -> sfn.StateMachine:
        pause = sfn.Wait(self, "Pause", time=sfn.WaitTime.duration(Duration.minutes(1)))
        check = tasks.LambdaInvoke(
            self,
            "CheckBaseline",
            lambda_function=poller,
            payload_response_only=True,
            retry_on_service_exceptions=True,
        )
        finished = sfn.Succeed(self, "Answered")
        loop = pause.next(check).next(
            sfn.Choice(self, "Finished?").when(sfn.Condition.boolean_equals("$.done", True), finished).otherwise(pause)
        )
        log_group = logs.LogGroup(
            self, "WaiterLogs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.DESTROY
        )
        self.waiter_role = iam.Role(
            self,
            "WaiterRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Runs the loop that waits for the baseline job",
        )
        self.waiter_role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[poller.function_arn, f"{poller.function_arn}:*"]
            )
        )
        self.waiter_role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    # CloudWatch Logs delivery for Step Functions has no resource-level permissions.
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups",
                ],
                # X-Ray and log-delivery calls take no resource (Step Functions' documented policy).
                resources=["*"],
            )
        )
        machine = sfn.StateMachine(
            self,
            "Waiter",
            definition_body=sfn.DefinitionBody.from_chainable(loop),
            timeout=Duration.minutes(70),
            tracing_enabled=True,
            # Immutable view, for the same reason as the functions' roles (grants are written above).
            role=iam.Role.from_role_arn(self, "WaiterRoleRef", self.waiter_role.role_arn, mutable=False),
            # The input carries CloudFormation's pre-signed response URL: log states, never the data.
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        poller_arn = Stack.of(self).get_logical_id(poller.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            self.waiter_role,
            (
                f"AwsSolutions-IAM5[Resource::<{poller_arn}.Arn>:*]",
                "Step Functions may invoke any version of the poller function; it is this stack's own function",
            ),
            (
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray trace segments and CloudWatch log delivery have no resource type to scope to",
            ),
        )
        return machine
