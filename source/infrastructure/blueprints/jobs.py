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

from infrastructure.blueprints.parameters import declare
from infrastructure.distribution import blueprint_lambdas_key
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.spec import Blueprint

# The zip (the `lambdas/` package tree) the build puts in the blueprints bucket for every job Lambda.
RUNTIME = lambda_.Runtime.PYTHON_3_14


def declare_parameters(stack: Stack, blueprint: Blueprint) -> dict[str, str]:
    """Declare the blueprint's CfnParameters (exactly the catalogue's); returns name -> Ref token."""
    return {name: parameter.value_as_string for name, parameter in declare(stack, blueprint).items()}


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
