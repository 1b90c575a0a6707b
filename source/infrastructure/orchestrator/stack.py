# SPDX-License-Identifier: Apache-2.0
"""The orchestrator stack: the IAM-authorized REST API, the orchestrator Lambda, its buckets, topic and triggers.

One class, two templates: `multi_account=False` deploys every pipeline into this account; `multi_account=True`
adds the dev/staging/prod targets and lets the stage accounts read what their StackSets deploy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aws_cdk import (
    Aws,
    CfnCondition,
    CfnOutput,
    CfnResource,
    CustomResource,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
    custom_resources,
)
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as aws_lambda
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from infrastructure import boundary
from infrastructure.checkov import skip_checks
from infrastructure.distribution import BLUEPRINTS_PREFIX, Distribution, lambda_code
from infrastructure.nag import acknowledge
from infrastructure.rest_api import logged_stage
from lambdas.pipeline_orchestration import pipeline_index
from lambdas.pipeline_orchestration.index import BODY_ROUTES
from lambdas.pipeline_orchestration.index import ROUTES as API_ROUTES
from lambdas.pipeline_orchestration.lifecycle import LIST_PARAMETERS
from lambdas.pipeline_orchestration.planner import PROVISIONED_PREFIX

from . import permissions
from .parameters import STAGE_NAMES, OrchestratorConditions, OrchestratorParameters

# Writes to the objects a pipeline deploys from: reserved to the orchestrator (see the assets bucket's policy).
PIPELINE_OBJECT_WRITES = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectTagging",
    "s3:DeleteObjectTagging",
)
RUNTIME = aws_lambda.Runtime.PYTHON_3_14
ARCHITECTURE = aws_lambda.Architecture.ARM_64
ORCHESTRATOR_HANDLER = "lambdas.pipeline_orchestration.index.handler"
COPY_ASSETS_HANDLER = "lambdas.custom_resource.copy_assets.handler"
CONFIG_FILE = "mlops-config.json"
TRIGGER_BRANCH = "main"
THROTTLING_RATE = 50
THROTTLING_BURST = 100
KMS_ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]


@contextmanager
def _added_children(scope: IConstruct) -> Iterator[list[IConstruct]]:
    """The constructs added directly under `scope` inside the block (filled when the block ends)."""
    before = {child.node.id for child in scope.node.children}
    added: list[IConstruct] = []
    yield added
    added.extend(child for child in scope.node.children if child.node.id not in before)


def only_if(condition: CfnCondition, *scopes: IConstruct) -> None:
    """Create every CloudFormation resource under these constructs only when the condition holds."""
    for scope in scopes:
        for construct in scope.node.find_all():
            if isinstance(construct, CfnResource):
                construct.cfn_options.condition = condition


def _secure_bucket(scope: Construct, construct_id: str, **kwargs) -> s3.Bucket:
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=RemovalPolicy.RETAIN,
        **kwargs,
    )


class OrchestratorStack(Stack):
    """The MLOps orchestrator: what a platform engineer deploys once per account (or per Organization)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        multi_account: bool,
        distribution: Distribution | None = None,
        **kwargs,
    ) -> None:
        mode = "Multi Account" if multi_account else "Single Account"
        distribution = distribution or Distribution()
        kwargs.setdefault(
            "description",
            f"MLOps orchestrator for Amazon SageMaker ({mode} Option). Version {distribution.version}",
        )
        super().__init__(scope, construct_id, **kwargs)
        self.multi_account = multi_account
        self.distribution = distribution
        self.parameters = OrchestratorParameters.declare(self, multi_account)
        self.conditions = OrchestratorConditions.declare(self, self.parameters)
        self.stage_accounts = (
            [self.parameters.stages[stage].account_id.value_as_string for stage in STAGE_NAMES]
            if self.parameters.stages
            else []
        )

        created_assets = self._storage()
        self._pipeline_index()
        self._notifications()
        self._container_registry()
        self._model_registry()
        self._permissions_boundary()
        self._cloudformation_role()
        self._orchestrator_function()
        self._pipeline_sources_written_by_orchestrator_only(created_assets)
        self._failed_events()
        self._api()
        self._copy_blueprints()
        self._stack_events_trigger()
        self._codecommit_trigger()
        self._config_bucket_trigger()
        self._outputs()
        acknowledge(
            self,
            (
                "CloudFormation-Validate::W1001",
                "The outputs AssetsBucket, ECRRepoName, ECRRepoArn and ModelRegistryArn name their conditional "
                "resource only in the Fn::If branch taken when that resource's own condition holds (cfn-lint agrees).",
            ),
        )

    # -------------------------------------------------------------------------------------------------------
    # Storage: access logs, assets (unless an existing bucket is given), blueprints

    def _storage(self) -> s3.Bucket:
        self.access_logs_bucket = _secure_bucket(self, "AccessLogsBucket")
        skip_checks(
            self.access_logs_bucket,
            (
                "CKV_AWS_18",
                "This bucket receives the other buckets' server access logs; logging it into itself would loop",
            ),
        )
        acknowledge(
            self.access_logs_bucket,
            (
                "AwsSolutions-S1",
                "This bucket receives the server access logs of the other buckets; logging it into itself would loop.",
            ),
        )

        created_assets = _secure_bucket(self, "AssetsS3Bucket")
        # Logging configured on the L1 so that the access-log bucket's policy names the bucket by its name,
        # not by a reference to a resource that does not exist when ExistingS3Bucket is used.
        assets_cfn = created_assets.node.default_child
        # Pipelines start when their template.zip changes: the S3 source actions listen through EventBridge.
        # (Set on the L1: CDK's event_bridge_enabled would add a notifications custom resource for it.)
        assets_cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )
        assets_cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=self.access_logs_bucket.bucket_name, log_file_prefix="assets_bucket_access_logs/"
        )
        self.assets_bucket_name = Fn.condition_if(
            self.conditions.create_bucket.logical_id,
            created_assets.bucket_name,
            self.parameters.existing_bucket.value_as_string,
        ).to_string()
        self.access_logs_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AssetsBucketServerAccessLogs",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.access_logs_bucket.arn_for_objects("assets_bucket_access_logs/*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": permissions.bucket_arn(self.assets_bucket_name)},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )

        self.blueprints_bucket = _secure_bucket(
            self,
            "BlueprintRepository",
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="blueprint_repository_bucket_access_logs/",
        )

        if self.multi_account:
            stage_principals = [iam.AccountPrincipal(account) for account in self.stage_accounts]
            for bucket in (created_assets, self.blueprints_bucket):
                bucket.add_to_resource_policy(
                    iam.PolicyStatement(
                        sid="StageAccountsRead",
                        principals=stage_principals,
                        actions=["s3:GetObject", "s3:ListBucket"],
                        resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
                    )
                )
        only_if(self.conditions.create_bucket, created_assets)
        return created_assets

    def _pipeline_sources_written_by_orchestrator_only(self, created_assets: s3.Bucket) -> None:
        """A pipeline deploys only a template the orchestrator wrote: nobody else may write its source objects,
        nor, besides the pipelines' own roles, the artifacts a pipeline passes between its stages."""
        writes = list(PIPELINE_OBJECT_WRITES)
        created_assets.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PipelineSourcesOnlyByOrchestrator",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=writes,
                resources=[created_assets.arn_for_objects(f"{PROVISIONED_PREFIX}/*")],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": self.orchestrator_role.role_arn}},
            )
        )
        created_assets.add_to_resource_policy(
            iam.PolicyStatement(
                # CodePipeline keeps artifacts under the first 20 characters of the pipeline's name.
                sid="PipelineArtifactsOnlyByPipelines",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=writes,
                resources=[created_assets.arn_for_objects(f"{permissions.PIPELINE_PREFIX}*")],
                conditions={
                    "ArnNotLike": {
                        "aws:PrincipalArn": [
                            self.orchestrator_role.role_arn,
                            permissions.arn("iam", f"role/{permissions.PIPELINE_PREFIX}*", region=""),
                        ]
                    }
                },
            )
        )

    # -------------------------------------------------------------------------------------------------------
    # The pipeline index: what GET /pipelines reads, one query per page

    def _pipeline_index(self) -> None:
        self.index_table = dynamodb.Table(
            self,
            "PipelineIndex",
            partition_key=dynamodb.Attribute(name=pipeline_index.KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Encrypted with the AWS managed key aws/dynamodb: its key policy lets any principal of the account
            # that may use the table use the key through DynamoDB, so the orchestrator needs no KMS permission.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # The index is rebuilt from the mlops-pipeline* CloudFormation stacks: deleting it loses nothing.
            removal_policy=RemovalPolicy.DESTROY,
        )
        skip_checks(
            self.index_table,
            (
                "CKV_AWS_119",
                "The index holds pipeline names, types and states, a cache of what CloudFormation says; the AWS "
                "managed key encrypts it at rest and needs no key policy or KMS grant for the orchestrator",
            ),
        )
        self.index_table.add_global_secondary_index(
            index_name=pipeline_index.NEWEST_FIRST,
            partition_key=dynamodb.Attribute(name=pipeline_index.PARTITION, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=pipeline_index.SORT, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

    # -------------------------------------------------------------------------------------------------------
    # Notifications: an encrypted topic that EventBridge rules, SNS-calling roles and the orchestrator publish to

    def _notifications(self) -> None:
        key = kms.Key(
            self,
            "NotificationsKey",
            description="Encrypts the MLOps notifications topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            policy=iam.PolicyDocument(
                statements=[
                    # In a key policy, Resource "*" is the key itself.
                    iam.PolicyStatement(
                        sid="AccountAdministers",
                        principals=[iam.AccountRootPrincipal()],
                        actions=KMS_ADMIN_ACTIONS,
                        resources=["*"],
                    ),
                    iam.PolicyStatement(
                        # Any principal of this account publishing through SNS, as AWS's own aws/sns key allows:
                        # the pipelines' roles do not know this key.
                        sid="PublishThroughSns",
                        principals=[iam.AnyPrincipal()],
                        actions=["kms:Decrypt", "kms:GenerateDataKey"],
                        resources=["*"],
                        conditions={
                            "StringEquals": {
                                "kms:CallerAccount": Aws.ACCOUNT_ID,
                                "kms:ViaService": f"sns.{Aws.REGION}.amazonaws.com",
                            }
                        },
                    ),
                    iam.PolicyStatement(
                        sid="ServicesPublish",
                        principals=[
                            iam.ServicePrincipal("events.amazonaws.com"),
                            iam.ServicePrincipal("codestar-notifications.amazonaws.com"),
                            iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                        ],
                        actions=["kms:Decrypt", "kms:GenerateDataKey"],
                        resources=["*"],
                        conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                    ),
                ]
            ),
        )
        skip_checks(
            key,
            (
                "CKV_AWS_33",
                "The one statement for any principal is bounded by kms:CallerAccount (this account) and "
                "kms:ViaService (SNS in this region): the key is usable only through SNS, to publish to the topic",
            ),
        )
        self.topic = sns.Topic(
            self, "MLOpsNotificationsTopic", display_name="MLOps notifications", master_key=key, enforce_ssl=True
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(self.parameters.notification_email.value_as_string))
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgePublish",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )

    # -------------------------------------------------------------------------------------------------------
    # Custom algorithm images: a new repository unless an existing one is named

    def _container_registry(self) -> None:
        repository = ecr.Repository(self, "ECRRepo", image_scan_on_push=True, removal_policy=RemovalPolicy.RETAIN)
        skip_checks(
            repository,
            (
                "CKV_AWS_136",
                "ECR encrypts images at rest (AES-256); the images hold algorithm code, not data, and a customer "
                "managed key would need a key policy for every account that pulls them",
            ),
            (
                "CKV_AWS_51",
                "The image-builder pipeline pushes the user's ImageTag again on every change of the image's source; "
                "immutable tags would fail each rebuild",
            ),
        )
        if self.multi_account:
            repository.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="StageAccountsPull",
                    principals=[iam.AccountPrincipal(account) for account in self.stage_accounts],
                    actions=[
                        "ecr:DescribeImages",
                        "ecr:DescribeRepositories",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchGetImage",
                        "ecr:BatchCheckLayerAvailability",
                    ],
                )
            )
        only_if(self.conditions.create_ecr_repo, repository)
        existing = self.parameters.existing_ecr_repo.value_as_string
        self.ecr_repo_name = Fn.condition_if(
            self.conditions.create_ecr_repo.logical_id, repository.repository_name, existing
        ).to_string()
        self.ecr_repo_arn = Fn.condition_if(
            self.conditions.create_ecr_repo.logical_id,
            repository.repository_arn,
            permissions.arn("ecr", f"repository/{existing}"),
        ).to_string()

    # -------------------------------------------------------------------------------------------------------
    # Optional model package group, kept on delete (it holds the user's model versions)

    def _model_registry(self) -> None:
        # First 8 hex digits of the stack's UUID: stable for the stack's life, no random value at synth time.
        suffix = Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID))))
        self.model_registry_name = Fn.join("", ["mlops-model-registry-", suffix])
        group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelRegistry",
            model_package_group_name=self.model_registry_name,
            model_package_group_description="MLOps model registry",
        )
        group.apply_removal_policy(RemovalPolicy.RETAIN)
        if self.multi_account:
            group_arn = permissions.arn("sagemaker", f"model-package-group/{self.model_registry_name}")
            package_arn = permissions.arn("sagemaker", f"model-package/{self.model_registry_name}/*")
            group.model_package_group_policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "StageAccountsUseModelGroup",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": [f"arn:{Aws.PARTITION}:iam::{account}:root" for account in self.stage_accounts]
                        },
                        "Action": [
                            "sagemaker:CreateModel",
                            "sagemaker:DescribeModelPackage",
                            "sagemaker:DescribeModelPackageGroup",
                            "sagemaker:ListModelPackages",
                            "sagemaker:UpdateModelPackage",
                        ],
                        "Resource": [group_arn, package_arn],
                    }
                ],
            }
        only_if(self.conditions.create_model_registry, group)
        self.model_registry = group

    # -------------------------------------------------------------------------------------------------------
    # The permissions boundary of every role a pipeline stack creates (the user's own, or one made here)

    def _permissions_boundary(self) -> None:
        policy = iam.ManagedPolicy(
            self,
            "PipelinePermissionsBoundary",
            managed_policy_name=boundary.boundary_policy_name(),
            description="Permissions boundary of every role the MLOps pipelines create",
            document=iam.PolicyDocument(statements=boundary.boundary_statements(boundary.boundary_policy_arn())),
        )
        only_if(self.conditions.create_permissions_boundary, policy)
        cap = (
            "A permissions boundary grants nothing: it caps the roles it is attached to, whose own policies name "
            "every action and resource; of IAM it allows only mlops-pipeline* roles that carry this boundary"
        )
        skip_checks(policy, *[(f"CKV_AWS_{number}", cap) for number in range(107, 112)])
        self.boundary_arn = Fn.condition_if(
            self.conditions.create_permissions_boundary.logical_id,
            policy.managed_policy_arn,
            self.parameters.permissions_boundary.value_as_string,
        ).to_string()
        acknowledge(
            policy,
            *[
                (
                    f"AwsSolutions-IAM5[Action::{service}:*]",
                    "A permissions boundary caps each role by service; the role's own policy names every action "
                    "and resource it holds (the named actions would exceed IAM's policy size limit)",
                )
                for service in boundary.BOUNDED_SERVICES
            ],
            (
                "AwsSolutions-IAM5[Resource::*]",
                "A permissions boundary grants nothing by itself: each role's own policy scopes the resources",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/mlops-pipeline*]",
                "The pipelines' roles get CloudFormation-generated names that start with their stack's name, "
                "which always starts with mlops-pipeline",
            ),
        )

    # -------------------------------------------------------------------------------------------------------
    # The role CloudFormation assumes for the stacks the orchestrator creates

    def _cloudformation_role(self) -> None:
        grants = permissions.cloudformation_role_statements(
            topic_arn=self.topic.topic_arn, boundary_arn=self.boundary_arn
        )
        grants += permissions.cloudformation_handler_statements(blueprints_bucket_arn=self.blueprints_bucket.bucket_arn)
        document = permissions.policy_document(grants)
        document.add_statements(*boundary.guard_statements(self.boundary_arn))
        self.cfn_role = iam.Role(
            self,
            "MLOpsCloudformationRole",
            assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
            description="Creates the mlops-pipeline* stacks of the MLOps orchestrator",
            inline_policies={"PipelineStacks": document},
        )
        permissions.acknowledge_wildcards(self.cfn_role, grants)

    # -------------------------------------------------------------------------------------------------------
    # The orchestrator Lambda

    def _function_role(self, construct_id: str, log_group: logs.LogGroup, description: str) -> iam.Role:
        """A Lambda role that may write to its own log group and nothing else (no AWS managed policy)."""
        return iam.Role(
            self,
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

    def _orchestrator_function(self) -> None:
        log_group = logs.LogGroup(self, "OrchestratorLogGroup", retention=logs.RetentionDays.ONE_YEAR)
        role = self._function_role("OrchestratorRole", log_group, "Role of the MLOps orchestrator Lambda")
        settings = {
            "REGION": Aws.REGION,
            "ACCOUNT_ID": Aws.ACCOUNT_ID,
            "ASSETS_BUCKET": self.assets_bucket_name,
            "BLUEPRINT_BUCKET": self.blueprints_bucket.bucket_name,
            "CFN_ROLE_ARN": self.cfn_role.role_arn,
            "PERMISSIONS_BOUNDARY_ARN": self.boundary_arn,
            "ECR_REPO_NAME": self.ecr_repo_name,
            "ECR_REPO_ARN": self.ecr_repo_arn,
            "MLOPS_NOTIFICATIONS_SNS_TOPIC": self.topic.topic_arn,
            "PIPELINE_INDEX_TABLE": self.index_table.table_name,
            "IS_MULTI_ACCOUNT": str(self.multi_account),
            "USE_MODEL_REGISTRY": self.parameters.use_model_registry.value_as_string,
            "ALLOW_DETAILED_ERROR_MESSAGE": self.parameters.allow_detailed_error_message.value_as_string,
            "STRICT_VALIDATION": self.parameters.strict_validation.value_as_string,
            "LOG_LEVEL": "INFO",
            "SOLUTION_VERSION": self.distribution.version,
        }
        if self.parameters.delegated_admin is not None and self.parameters.stages is not None:
            settings["IS_DELEGATED_ADMIN"] = self.parameters.delegated_admin.value_as_string
            for stage, target in self.parameters.stages.items():
                settings[f"{stage.upper()}_ACCOUNT_ID"] = target.account_id.value_as_string
                settings[f"{stage.upper()}_ORG_ID"] = target.org_unit_id.value_as_string
        self.orchestrator = aws_lambda.Function(
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
            self.orchestrator,
            (
                "CKV_AWS_116",
                "API Gateway calls it synchronously; its asynchronous invocations that still fail after two "
                "retries go to the FailedOrchestratorEvents queue through an on-failure destination (the newer "
                "form of a dead-letter queue, which this check does not read), with an alarm to the topic",
            ),
        )
        grants = permissions.orchestrator_statements(
            assets_bucket=self.assets_bucket_name,
            blueprints_bucket_arn=self.blueprints_bucket.bucket_arn,
            cfn_role_arn=self.cfn_role.role_arn,
            topic_arn=self.topic.topic_arn,
            pipeline_index_arn=self.index_table.table_arn,
            pipeline_index_gsi=pipeline_index.NEWEST_FIRST,
            multi_account=self.multi_account,
            blueprints_bucket_name=self.blueprints_bucket.bucket_name,
        )
        policy = iam.Policy(self, "OrchestratorPolicy", document=permissions.policy_document(grants))
        policy.attach_to_role(role)
        permissions.acknowledge_wildcards(policy, grants)
        self.orchestrator_role = role
        self.orchestrator_policy = policy

    # -------------------------------------------------------------------------------------------------------
    # Asynchronous invocations (stack events, CodeCommit pushes, config uploads) that fail are kept, and told

    def _failed_events(self) -> None:
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
        self.orchestrator.configure_async_invoke(
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
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))

    # -------------------------------------------------------------------------------------------------------
    # The REST API

    def _api(self) -> None:
        access_logs = logs.LogGroup(self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_YEAR)
        # The predecessor's construct path, so the API URL output keeps its name
        # (PipelineOrchestrationLambdaRestApiEndpoint9B628338).
        scope = Construct(self, "PipelineOrchestration")
        api = apigateway.RestApi(
            scope,
            "LambdaRestApi",
            rest_api_name=f"{Aws.STACK_NAME}-orchestrator",
            description="MLOps orchestrator API (IAM authorization)",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=logged_stage(
                access_logs, rate_limit=THROTTLING_RATE, burst_limit=THROTTLING_BURST, data_trace_enabled=False
            ),
            default_method_options=apigateway.MethodOptions(authorization_type=apigateway.AuthorizationType.IAM),
        )
        json_object = api.add_model(
            "JsonObject",
            content_type="application/json",
            model_name="JsonObject",
            schema=apigateway.JsonSchema(
                schema=apigateway.JsonSchemaVersion.DRAFT4, type=apigateway.JsonSchemaType.OBJECT
            ),
        )
        body_validator = api.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        parameter_validator = api.add_request_validator("ParameterValidator", validate_request_parameters=True)
        integration = apigateway.LambdaIntegration(self.orchestrator, proxy=True, allow_test_invoke=False)
        # Every route the handler serves, and only those.
        for method, path in sorted(API_ROUTES, key=lambda route: (route[1], route[0])):
            has_body = (method, path) in BODY_ROUTES
            path_parameters = {
                f"method.request.path.{part[1:-1]}": True
                for part in path.split("/")
                if part.startswith("{") and part.endswith("}")
            }
            query = (
                {f"method.request.querystring.{name}": False for name in LIST_PARAMETERS}
                if (method, path) == ("GET", "/pipelines")
                else {}
            )
            api.root.resource_for_path(path).add_method(
                method,
                integration,
                authorization_type=apigateway.AuthorizationType.IAM,
                request_validator=body_validator if has_body else parameter_validator,
                request_models={"application/json": json_object} if has_body else None,
                request_parameters={**path_parameters, **query} or None,
            )
        self.api = api
        acknowledge(
            api,
            (
                "AwsSolutions-APIG3",
                "Every method requires IAM (SigV4) authorization and the stage is throttled; a WAF web ACL is "
                "left to the deployer, who can associate one with the stage.",
            ),
            (
                "AwsSolutions-COG4",
                "Callers are IAM principals (SigV4), as with the predecessor's API; there is no Cognito user pool.",
            ),
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "The account-level role API Gateway needs to write the stage's access and execution logs.",
            ),
        )

    # -------------------------------------------------------------------------------------------------------
    # Copy the blueprint templates and Lambda zips into the blueprints bucket on create and update

    def _copy_blueprints(self) -> None:
        log_group = logs.LogGroup(self, "CopyAssetsLogGroup", retention=logs.RetentionDays.ONE_YEAR)
        role = self._function_role("CopyAssetsRole", log_group, "Copies the blueprints into the blueprints bucket")
        source_bucket = Fn.sub(self.distribution.regional_bucket)
        grants = [
            permissions.statement(
                ["s3:GetObject"], [f"{permissions.bucket_arn(source_bucket)}/{self.distribution.blueprints_key}"]
            ),
            permissions.statement(
                ["s3:PutObject"],
                [self.blueprints_bucket.arn_for_objects(f"{BLUEPRINTS_PREFIX}*")],
                "Writes every file of the blueprints archive (templates and Lambda zips) under blueprints/.",
            ),
        ]
        copy_policy = iam.Policy(self, "CopyAssetsPolicy", document=permissions.policy_document(grants))
        copy_policy.attach_to_role(role)
        permissions.acknowledge_wildcards(copy_policy, grants)
        function = aws_lambda.Function(
            self,
            "CopyAssetsFunction",
            description="Copies the MLOps blueprints from the distribution bucket",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=COPY_ASSETS_HANDLER,
            code=lambda_code("custom_resource"),
            role=role,
            log_group=log_group,
            memory_size=512,
            timeout=Duration.minutes(5),
        )
        provider_logs = logs.LogGroup(self, "CopyAssetsProviderLogGroup", retention=logs.RetentionDays.ONE_YEAR)
        provider_role = self._function_role(
            "CopyAssetsProviderRole", provider_logs, "Runs the custom resource framework of the blueprint copy"
        )
        provider = custom_resources.Provider(
            self,
            "CopyAssetsProvider",
            on_event_handler=function,
            framework_on_event_role=provider_role,
            log_group=provider_logs,
        )
        CustomResource(
            self,
            "CopyBlueprints",
            service_token=provider.service_token,
            resource_type="Custom::CopyBlueprints",
            properties={
                "SourceBucket": source_bucket,
                "SourceKey": self.distribution.blueprints_key,
                "DestinationBucket": self.blueprints_bucket.bucket_name,
                "DestinationPrefix": BLUEPRINTS_PREFIX,
            },
        )
        acknowledge(
            provider_role,
            (
                f"AwsSolutions-IAM5[Resource::<{self.get_logical_id(function.node.default_child)}.Arn>:*]",
                "The custom resource framework invokes any version of the copy function it manages.",
            ),
        )

    # -------------------------------------------------------------------------------------------------------
    # Status changes of the pipelines' stacks keep the pipeline index current and continue teardowns
    # (DELETE /pipelines/{name} waits for stacks).

    def _stack_events_trigger(self) -> None:
        target = targets.LambdaFunction(self.orchestrator, retry_attempts=2, dead_letter_queue=self.failed_events)
        events.Rule(
            self,
            "PipelineStackEvents",
            description="Every status change of mlops-pipeline stacks keeps the pipeline index current and "
            "continues pipeline teardowns",
            event_pattern=events.EventPattern(
                source=["aws.cloudformation"],
                detail_type=["CloudFormation Stack Status Change"],
                resources=events.Match.prefix(
                    permissions.arn("cloudformation", f"stack/{permissions.PIPELINE_PREFIX}")
                ),
            ),
            targets=[target],
        )
        events.Rule(
            self,
            "PipelineStackSetEvents",
            description="Finished operations of mlops-pipeline StackSets keep the pipeline index current and "
            "continue pipeline teardowns",
            event_pattern=events.EventPattern(
                source=["aws.cloudformation"],
                detail_type=["CloudFormation StackSet Status Change"],
                detail={"status-details": {"status": ["SUCCEEDED", "FAILED"]}},
                resources=events.Match.prefix(
                    permissions.arn("cloudformation", f"stackset/{permissions.PIPELINE_PREFIX}")
                ),
            ),
            targets=[target],
        )
        # The pipeline's state follows its executions: started, stage by stage, ended; and its approvals.
        pipelines = events.Match.prefix(permissions.arn("codepipeline", permissions.PIPELINE_PREFIX))
        events.Rule(
            self,
            "PipelineExecutionEvents",
            description="Execution and stage state changes of mlops-pipeline CodePipelines keep the pipeline index "
            "current and report the outcome of config-file requests",
            event_pattern=events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=[
                    "CodePipeline Pipeline Execution State Change",
                    "CodePipeline Stage Execution State Change",
                ],
                resources=pipelines,
            ),
            targets=[target],
        )
        events.Rule(
            self,
            "PipelineApprovalEvents",
            description="Manual approvals of mlops-pipeline CodePipelines that start or end keep the pipeline index "
            "current (WAITING_APPROVAL)",
            event_pattern=events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=["CodePipeline Action Execution State Change"],
                detail={"type": {"category": ["Approval"]}},
                resources=pipelines,
            ),
            targets=[target],
        )

    # -------------------------------------------------------------------------------------------------------
    # Config-file triggers, each only when its parameter is set

    def _codecommit_trigger(self) -> None:
        condition = self.conditions.git_address_provided
        # https://git-codecommit.<region>.amazonaws.com/v1/repos/<name>: the name is the 6th "/" token.
        repository_name = Fn.select(5, Fn.split("/", self.parameters.codecommit_repo_address.value_as_string))
        repository_arn = permissions.arn("codecommit", repository_name)
        with _added_children(self.orchestrator) as invoke_permissions:
            rule = events.Rule(
                self,
                "CodeCommitTrigger",
                description=f"A push to {TRIGGER_BRANCH} of the config repository provisions from {CONFIG_FILE}",
                event_pattern=events.EventPattern(
                    source=["aws.codecommit"],
                    detail_type=["CodeCommit Repository State Change"],
                    resources=[repository_arn],
                    detail={
                        "event": ["referenceCreated", "referenceUpdated"],
                        "referenceType": ["branch"],
                        "referenceName": [TRIGGER_BRANCH],
                    },
                ),
                targets=[targets.LambdaFunction(self.orchestrator, retry_attempts=2)],
            )
        # The dead-letter queue set by hand: CDK's queue-policy statement would name this conditional rule.
        rule.node.default_child.add_property_override(
            "Targets.0.DeadLetterConfig", {"Arn": self.failed_events.queue_arn}
        )
        self.failed_events.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CodeCommitTriggerDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.failed_events.queue_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": permissions.arn("events", f"rule/{Aws.STACK_NAME}-CodeCommitTrigger*")}
                },
            )
        )
        policy = iam.Policy(
            self,
            "CodeCommitTriggerPolicy",
            document=permissions.policy_document(permissions.codecommit_statements(repository_arn)),
        )
        policy.attach_to_role(self.orchestrator_role)
        only_if(condition, rule, policy, *invoke_permissions)

    def _config_bucket_trigger(self) -> None:
        condition = self.conditions.config_bucket_provided
        bucket_name = self.parameters.config_bucket.value_as_string
        bucket = s3.Bucket.from_bucket_name(self, "ConfigBucket", bucket_name)
        # CDK puts the invoke permission beside the function and its notifications handler at the stack's root.
        with _added_children(self.orchestrator) as invoke_permissions, _added_children(self) as handler:
            bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.LambdaDestination(self.orchestrator),
                s3.NotificationKeyFilter(prefix=CONFIG_FILE, suffix=CONFIG_FILE),
            )
        policy = iam.Policy(
            self,
            "ConfigBucketTriggerPolicy",
            document=permissions.policy_document(permissions.config_bucket_statements(bucket_name)),
        )
        policy.attach_to_role(self.orchestrator_role)
        only_if(condition, bucket, policy, *invoke_permissions, *handler)
        for construct in handler:
            acknowledge(
                construct,
                (
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "CDK's bucket-notifications handler writes its own logs; it runs once per deployment.",
                ),
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "CDK's bucket-notifications handler sets the notification of the existing bucket that the "
                    "ConfigS3Bucket parameter names; S3 takes the bucket from the request.",
                ),
            )

    # -------------------------------------------------------------------------------------------------------

    def _outputs(self) -> None:
        CfnOutput(
            self,
            "BlueprintsBucket",
            value=self.blueprints_bucket.bucket_name,
            description="S3 bucket of the MLOps blueprints (templates and Lambda code)",
        )
        CfnOutput(self, "AssetsBucket", value=self.assets_bucket_name, description="S3 bucket for model artifacts")
        CfnOutput(self, "ECRRepoName", value=self.ecr_repo_name, description="Amazon ECR repository's name")
        CfnOutput(self, "ECRRepoArn", value=self.ecr_repo_arn, description="Amazon ECR repository's arn")
        CfnOutput(
            self,
            "ModelRegistryArn",
            value=Fn.condition_if(
                self.conditions.create_model_registry.logical_id,
                self.model_registry.attr_model_package_group_arn,
                "[No Model Package Group was created]",
            ).to_string(),
            description="SageMaker model package group arn",
        )
        CfnOutput(
            self,
            "PipelineIndexTable",
            value=self.index_table.table_name,
            description="DynamoDB table indexing the MLOps pipelines (rebuilt from their stacks)",
        )
        CfnOutput(
            self,
            "MLOpsNotificationsTopicArn",
            value=self.topic.topic_arn,
            description="MLOps notifications SNS topic arn.",
        )
