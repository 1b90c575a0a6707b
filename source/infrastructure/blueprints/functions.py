# SPDX-License-Identifier: Apache-2.0
"""The CDK helpers every blueprint shares: ARNs and KMS actions, the blueprint Lambda (code from the blueprints
bucket, its own role and log group), the custom resource that starts a job (optionally waiting for it through a
Step Functions loop), the wrapper pipeline and its notifications.

Everything here is self-contained CloudFormation (no CDK asset): a blueprint template deploys with nothing but
its parameters and the Lambda zip in the blueprints bucket.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import (
    Aspects,
    Aws,
    CfnCondition,
    CfnParameter,
    CfnResource,
    CustomResource,
    Duration,
    Fn,
    IAspect,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infrastructure.distribution import blueprint_lambdas_key
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.catalogue import ARTIFACT_WRITERS_PATH, PIPELINE_PREFIX

RUNTIME = lambda_.Runtime.PYTHON_3_14

# What a role needs to use a customer-managed key on data it reads and writes; jobs also let SageMaker use it.
KMS_USE = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
]
KMS_FOR_JOBS = [*KMS_USE, "kms:CreateGrant"]


def s3_arn(path: str) -> str:
    """The ARN of a bucket or of `bucket/key` (tokens allowed)."""
    return f"arn:{Aws.PARTITION}:s3:::{path}"


def s3_uri(path: str) -> str:
    return Fn.join("", ["s3://", path])


def in_own_account() -> dict[str, Any]:
    """The condition of S3 grants on locations a request chooses: buckets of the account the role lives in (the
    orchestrator's, or in multi-account mode the stage account), whatever bucket name the request gave.
    AWS's data perimeter guidance: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
    (s3:ResourceAccount, https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html)."""
    return {"StringEquals": {"s3:ResourceAccount": Aws.ACCOUNT_ID}}


def kms_via_services(*services: str) -> dict[str, Any]:
    """The condition of grants on a key a request chooses: used only by the services that encrypt for the role
    (kms:ViaService, https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service)."""
    return {"StringEquals": {"kms:ViaService": [f"{service}.{Aws.REGION}.amazonaws.com" for service in services]}}


def sagemaker_arn(resource: str) -> str:
    return f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


def kms_grant_through_sagemaker() -> iam.PolicyStatement:
    """Let the caller grant SageMaker a key chosen per request (any key of the account, only via SageMaker)."""
    return iam.PolicyStatement(
        actions=["kms:CreateGrant", "kms:DescribeKey"],
        resources=[f"arn:{Aws.PARTITION}:kms:{Aws.REGION}:{Aws.ACCOUNT_ID}:key/*"],
        conditions={"StringEquals": {"kms:ViaService": f"sagemaker.{Aws.REGION}.amazonaws.com"}},
    )


def provided(stack: Stack, name: str, value: str | CfnParameter) -> CfnCondition:
    """A condition true when a parameter (or the value of one) is not empty."""
    if isinstance(value, CfnParameter):
        value = value.value_as_string
    return CfnCondition(stack, name, expression=Fn.condition_not(Fn.condition_equals(value, "")))


def if_provided(condition: CfnCondition, value: Any) -> Any:
    return Fn.condition_if(condition.logical_id, value, Aws.NO_VALUE)


def kms_policy(
    scope: Construct, construct_id: str, role: iam.IRole, key_arn: str, condition: CfnCondition, actions: list[str]
) -> iam.Policy:
    """A policy on the given KMS key that exists only when a key is given, used through SageMaker and S3 only."""
    policy = iam.Policy(
        scope,
        construct_id,
        roles=[role],
        statements=[
            iam.PolicyStatement(actions=actions, resources=[key_arn], conditions=kms_via_services("sagemaker", "s3"))
        ],
    )
    policy.node.default_child.cfn_options.condition = condition  # type: ignore[union-attr]
    return policy


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


class BlueprintFunction(Construct):
    """A Lambda running `handler` (in `lambdas/`, code from the blueprints bucket) with its own log group and
    role. The role holds `statements` and writing to that log group inline, so it is complete before the
    function exists and a custom resource can call it at once; later grants go to its default policy."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        code_bucket: s3.IBucket,
        description: str,
        statements: list[iam.PolicyStatement] | None = None,
        environment: dict[str, str] | None = None,
        timeout: Duration | None = None,
        memory_size: int = 256,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        log_removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=log_removal_policy)
        logs_statement = iam.PolicyStatement(
            # The log group's Arn attribute already ends in ':*' (its streams).
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[self.log_group.log_group_arn],
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {handler}",
            inline_policies={"Function": iam.PolicyDocument(statements=[logs_statement, *(statements or [])])},
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


@jsii.implements(IAspect)
class _ArtifactWriters:
    """Puts the roles of a wrapper pipeline (its own and its actions') on the path that the artifact bucket's
    policy lets write: no other role, whatever its name, writes what the pipeline's stages deploy."""

    def visit(self, node: Any) -> None:
        if isinstance(node, iam.CfnRole):
            node.path = ARTIFACT_WRITERS_PATH


def blueprint_pipeline(
    scope: Construct,
    assets: s3.IBucket,
    source_key: str,
    topic_arn: str,
    stages: list[codepipeline.StageProps],
    artifacts: s3.IBucket | None = None,
) -> codepipeline.Pipeline:
    """A blueprint pipeline (V2) with what every one has: artifacts written only by the pipeline's own roles (in
    `artifacts`, the orchestrator's artifact bucket; else under the assets bucket's reserved `mlops-pipeline`
    prefix), it starts when its source object in the assets bucket changes, reports its outcome to SNS, depends
    on its role's policy only, and carries the acknowledgments CDK's pipeline construct needs."""
    pipeline = codepipeline.Pipeline(
        scope,
        "Pipeline",
        artifact_bucket=artifacts or assets,
        cross_account_keys=False,
        restart_execution_on_update=False,
        pipeline_type=codepipeline.PipelineType.V2,
        stages=stages,
    )
    Aspects.of(pipeline).add(_ArtifactWriters())
    s3_source_trigger(scope, "SourceChanged", assets.bucket_name, source_key, pipeline.pipeline_arn)
    pipeline_outcome_notification(scope, "PipelineOutcome", pipeline.pipeline_name, topic_arn)
    only_policy_dependencies(pipeline.node.default_child, pipeline.role)
    acknowledge_pipeline(pipeline)
    if artifacts is not None:
        acknowledge(
            pipeline,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<ArtifactBucket>/*]",
                "The pipeline keeps its artifacts in the orchestrator's artifact bucket (encrypted, versioned, "
                "access-logged, and written only by the wrapper pipelines' own roles); CodePipeline names the objects",
            ),
        )
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
        self.poller: BlueprintFunction | None = None
        code = s3.Bucket.from_bucket_name(self, "Code", blueprint_bucket)
        if wait:
            self.poller = BlueprintFunction(
                self,
                "Poller",
                code_bucket=code,
                handler="lambdas.blueprints.job_resource.poll",
                description="Checks whether the baseline job has finished and answers CloudFormation",
                log_retention=logs.RetentionDays.ONE_YEAR,
                log_removal_policy=RemovalPolicy.DESTROY,
            )
            self.waiter = self._waiter(self.poller.function)
            environment["WAITER_STATE_MACHINE_ARN"] = self.waiter.state_machine_arn
        self.starter = BlueprintFunction(
            self,
            "Starter",
            code_bucket=code,
            handler="lambdas.blueprints.job_resource.on_event",
            description=f"Starts the {resource_type.removeprefix('Custom::')} of this stack",
            timeout=Duration.minutes(5),
            environment=environment,
            log_retention=logs.RetentionDays.ONE_YEAR,
            log_removal_policy=RemovalPolicy.DESTROY,
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
            cfn = construct.node.default_child if isinstance(construct, iam.Policy) else construct
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
            # mlops-pipeline*, as the permissions boundary requires; the stack id keeps it unique within 80 characters.
            state_machine_name=Fn.join("-", [PIPELINE_PREFIX, "waiter", Fn.select(2, Fn.split("/", Aws.STACK_ID))]),
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
