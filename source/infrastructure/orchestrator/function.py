# SPDX-License-Identifier: Apache-2.0
"""The orchestrator Lambda, its role and policy, and the queue that keeps the asynchronous events it failed on."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as aws_lambda
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infrastructure.blueprints.functions import RUNTIME
from infrastructure.checkov import skip_checks
from infrastructure.distribution import lambda_code
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration import pipeline_index
from lambdas.pipeline_orchestration.settings import MONITORING_ENGINE_ENV

from . import permissions
from .parameters import OrchestratorParameters

ARCHITECTURE = aws_lambda.Architecture.ARM_64
ORCHESTRATOR_HANDLER = "lambdas.pipeline_orchestration.index.handler"


def function_role(scope: Construct, construct_id: str, log_group: logs.LogGroup, description: str) -> iam.Role:
    """A Lambda role that may write to its own log group and nothing else (no AWS managed policy)."""
    return iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
        inline_policies={
            "Logs": iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                        resources=[log_group.log_group_arn],
                    )
                ]
            )
        },
    )


class OrchestratorFunction(Construct):
    """The orchestrator Lambda with the grants of `permissions.orchestrator_statements` on the given resources;
    its asynchronous invocations that fail land in `failed_events`, with an alarm to `topic`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        parameters: OrchestratorParameters,
        multi_account: bool,
        version: str,
        assets_bucket_name: str,
        blueprints_bucket: s3.IBucket,
        cfn_role: iam.IRole,
        boundary_arn: str,
        ecr_repo_name: str,
        ecr_repo_arn: str,
        topic: sns.ITopic,
        index_table: dynamodb.ITable,
        artifact_bucket_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group = logs.LogGroup(self, "OrchestratorLogGroup", retention=logs.RetentionDays.ONE_YEAR)
        role = function_role(self, "OrchestratorRole", log_group, "Role of the MLOps orchestrator Lambda")
        settings = {
            "REGION": Aws.REGION,
            "ACCOUNT_ID": Aws.ACCOUNT_ID,
            "ASSETS_BUCKET": assets_bucket_name,
            "BLUEPRINT_BUCKET": blueprints_bucket.bucket_name,
            "CFN_ROLE_ARN": cfn_role.role_arn,
            "PERMISSIONS_BOUNDARY_ARN": boundary_arn,
            "ECR_REPO_NAME": ecr_repo_name,
            "ECR_REPO_ARN": ecr_repo_arn,
            "MLOPS_NOTIFICATIONS_SNS_TOPIC": topic.topic_arn,
            "PIPELINE_INDEX_TABLE": index_table.table_name,
            "IS_MULTI_ACCOUNT": str(multi_account),
            "USE_MODEL_REGISTRY": parameters.use_model_registry.value_as_string,
            "ALLOW_DETAILED_ERROR_MESSAGE": parameters.allow_detailed_error_message.value_as_string,
            "STRICT_VALIDATION": parameters.strict_validation.value_as_string,
            "SUBNET_IDS": parameters.network.subnet_ids.value_as_string,
            "SECURITY_GROUP_IDS": parameters.network.security_group_ids.value_as_string,
            "VPC_ID": parameters.vpc_id.value_as_string,
            "LOG_LEVEL": "INFO",
            "SOLUTION_VERSION": version,
            # The data perimeter's allow-lists (settings.PERIMETER_SETTINGS).
            **{variable: p.value_as_string for variable, p in parameters.perimeter.by_variable.items()},
            # -- Where the wrapper pipelines keep their artifacts
            "ARTIFACT_BUCKET": artifact_bucket_name,
            # --- Monitoring engine
            MONITORING_ENGINE_ENV: parameters.monitoring_engine.value_as_string,
        }
        if parameters.access is not None:  # who may do what
            settings["ALLOW_SELF_APPROVAL"] = parameters.access.allow_self_approval.value_as_string
            settings["ADMIN_PRINCIPAL_ARNS"] = parameters.access.admin_principal_arns.value_as_string
            settings["TEAM_TAG_KEY"] = parameters.access.team_tag_key.value_as_string
        if parameters.delegated_admin is not None and parameters.stages is not None:
            settings["IS_DELEGATED_ADMIN"] = parameters.delegated_admin.value_as_string
            for stage, target in parameters.stages.items():
                settings[f"{stage.upper()}_ACCOUNT_ID"] = target.account_id.value_as_string
                settings[f"{stage.upper()}_ORG_ID"] = target.org_unit_id.value_as_string
                if target.network is not None:
                    settings[f"{stage.upper()}_SUBNET_IDS"] = target.network.subnet_ids.value_as_string
                    settings[f"{stage.upper()}_SECURITY_GROUP_IDS"] = target.network.security_group_ids.value_as_string
        self.function = aws_lambda.Function(
            self,
            "PipelineOrchestrationFunction",
            description="MLOps orchestrator: provisions and reports on ML pipelines",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=ORCHESTRATOR_HANDLER,
            code=lambda_code("pipeline_orchestration"),
            role=role,
            log_group=log_group,
            memory_size=512,
            timeout=Duration.minutes(2),
            environment=settings,
        )
        skip_checks(
            self.function,
            (
                "CKV_AWS_116",
                "API Gateway calls it synchronously; its asynchronous invocations that still fail after two "
                "retries go to the FailedOrchestratorEvents queue through an on-failure destination (the newer "
                "form of a dead-letter queue, which this check does not read), with an alarm to the topic",
            ),
        )
        grants = permissions.orchestrator_statements(
            assets_bucket=assets_bucket_name,
            blueprints_bucket_arn=blueprints_bucket.bucket_arn,
            cfn_role_arn=cfn_role.role_arn,
            topic_arn=topic.topic_arn,
            pipeline_index_arn=index_table.table_arn,
            pipeline_index_gsi=pipeline_index.NEWEST_FIRST,
            multi_account=multi_account,
            blueprints_bucket_name=blueprints_bucket.bucket_name,
        )
        policy = iam.Policy(self, "OrchestratorPolicy", document=permissions.policy_document(grants))
        policy.attach_to_role(role)
        permissions.acknowledge_wildcards(policy, grants)
        self.role = role
        self.policy = policy
        self._keep_failed_events(topic)

    def _keep_failed_events(self, topic: sns.ITopic) -> None:
        """Asynchronous invocations (stack events, CodeCommit pushes, config uploads) that fail are kept, and told."""
        self.failed_events = sqs.Queue(
            self,
            "FailedOrchestratorEvents",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.failed_events,
            ("AwsSolutions-SQS3", "This queue is itself the dead-letter queue of the orchestrator's events"),
        )
        skip_checks(
            self.failed_events,
            (
                "CKV_AWS_27",
                "Encrypted at rest with SQS-managed keys; a customer managed key would need a key policy for "
                "EventBridge and Lambda's destinations, and the messages are events, not model or user data",
            ),
        )
        # Events the orchestrator received but failed on, after Lambda's own retries.
        self.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.failed_events), retry_attempts=2
        )
        alarm = cloudwatch.Alarm(
            self,
            "FailedOrchestratorEventsAlarm",
            alarm_description="An event for the MLOps orchestrator failed and waits in its dead-letter queue",
            metric=self.failed_events.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
