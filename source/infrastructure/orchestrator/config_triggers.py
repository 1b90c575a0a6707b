# SPDX-License-Identifier: Apache-2.0
"""Config-file triggers, each only when its parameter is set: a push of mlops-config.json to the CodeCommit
repository's main branch, its upload to the config bucket, or its change on a branch of a GitHub, GitLab or
Bitbucket repository (a CodePipeline with a CodeConnections source) provisions from it."""

from __future__ import annotations

from aws_cdk import Aws, CfnCondition, Fn, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as aws_lambda
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.triggers import CONFIG_FILE, RESULT_FILE, TRIGGER_BRANCH

from . import permissions
from .conditional import added_children, only_if
from .logical_ids import StackLevel
from .storage import secure_bucket


class CodeCommitTrigger(StackLevel):
    """When `condition` holds: pushes to the repository at `repository_address` invoke `function`, whose role
    may then read the repository; undeliverable events go to `dead_letters`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        condition: CfnCondition,
        repository_address: str,
        function: aws_lambda.IFunction,
        function_role: iam.IRole,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        # https://git-codecommit.<region>.amazonaws.com/v1/repos/<name>: the name is the 6th "/" token.
        repository_name = Fn.select(5, Fn.split("/", repository_address))
        repository_arn = permissions.arn("codecommit", repository_name)
        with added_children(function) as invoke_permissions:
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
                targets=[targets.LambdaFunction(function, retry_attempts=2)],
            )
        # The dead-letter queue set by hand: CDK's queue-policy statement would name this conditional rule.
        rule.node.default_child.add_property_override("Targets.0.DeadLetterConfig", {"Arn": dead_letters.queue_arn})
        dead_letters.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CodeCommitTriggerDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[dead_letters.queue_arn],
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
        policy.attach_to_role(function_role)
        only_if(condition, rule, policy, *invoke_permissions)


class ConfigBucketTrigger(StackLevel):
    """When `condition` holds: an upload of the config file to the existing bucket `bucket_name` invokes
    `function`, whose role may then read it and write the result beside it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        condition: CfnCondition,
        bucket_name: str,
        function: aws_lambda.IFunction,
        function_role: iam.IRole,
    ) -> None:
        super().__init__(scope, construct_id)
        bucket = s3.Bucket.from_bucket_name(self, "ConfigBucket", bucket_name)
        # CDK puts the invoke permission beside the function and its notifications handler at the stack's root.
        with added_children(function) as invoke_permissions, added_children(Stack.of(self)) as handler:
            bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.LambdaDestination(function),
                s3.NotificationKeyFilter(prefix=CONFIG_FILE, suffix=CONFIG_FILE),
            )
        policy = iam.Policy(
            self,
            "ConfigBucketTriggerPolicy",
            document=permissions.policy_document(permissions.config_bucket_statements(bucket_name)),
        )
        policy.attach_to_role(function_role)
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


# The artifact bucket's server access logs, under this prefix of the access-logs bucket.
CONNECTION_LOGS_PREFIX = "connection_artifacts_access_logs/"


class ConnectionTrigger(StackLevel):
    """When `condition` holds: a CodePipeline whose source is the branch of `repository` through the CodeConnections
    connection `connection_arn`; a push that changes mlops-config.json starts it, and its second action invokes
    `function` with the branch's zip, as the orchestrator's `on_pipeline_job` expects."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        condition: CfnCondition,
        connection_arn: str,
        repository: str,
        branch: str,
        function: aws_lambda.IFunction,
        function_role: iam.IRole,
        access_logs_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.artifacts = secure_bucket(self, "ConnectionArtifacts")
        # Logging set on the L1: CDK's server_access_logs_bucket would name this conditional bucket in the
        # unconditional access-logs bucket's policy (whose statement for this prefix names the account).
        self.artifacts.node.default_child.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=access_logs_bucket.bucket_name, log_file_prefix=CONNECTION_LOGS_PREFIX
        )
        access_logs_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ConnectionArtifactsServerAccessLogs",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[access_logs_bucket.arn_for_objects(f"{CONNECTION_LOGS_PREFIX}*")],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        self.pipeline_role = iam.Role(
            self,
            "ConnectionPipelineRole",
            # Only CodePipeline acting for this account (the confused-deputy guard CodePipeline documents).
            assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com").with_conditions(
                {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description="The config-source pipeline: reads the branch through the connection, invokes the orchestrator",
            inline_policies={
                "ConfigSource": permissions.policy_document(
                    permissions.connection_pipeline_statements(
                        connection_arn, self.artifacts.bucket_arn, function.function_arn
                    )
                )
            },
        )
        source = codepipeline.CfnPipeline.ActionDeclarationProperty(
            name="Source",
            action_type_id=codepipeline.CfnPipeline.ActionTypeIdProperty(
                category="Source", owner="AWS", provider="CodeStarSourceConnection", version="1"
            ),
            configuration={
                "ConnectionArn": connection_arn,
                "FullRepositoryId": repository,
                "BranchName": branch,
                "OutputArtifactFormat": "CODE_ZIP",
                "DetectChanges": "true",
            },
            output_artifacts=[codepipeline.CfnPipeline.OutputArtifactProperty(name="SourceArtifact")],
            run_order=1,
        )
        hand_off = codepipeline.CfnPipeline.ActionDeclarationProperty(
            name="Provision",
            action_type_id=codepipeline.CfnPipeline.ActionTypeIdProperty(
                category="Invoke", owner="AWS", provider="Lambda", version="1"
            ),
            configuration={
                "FunctionName": function.function_name,
                "UserParameters": Fn.join("", ['{"repository": "', repository, '", "branch": "', branch, '"}']),
            },
            input_artifacts=[codepipeline.CfnPipeline.InputArtifactProperty(name="SourceArtifact")],
            run_order=1,
        )
        self.pipeline = codepipeline.CfnPipeline(
            self,
            "ConnectionPipeline",
            role_arn=self.pipeline_role.role_arn,
            pipeline_type="V2",
            execution_mode="QUEUED",  # every change of the file is provisioned, in commit order
            artifact_store=codepipeline.CfnPipeline.ArtifactStoreProperty(
                type="S3", location=self.artifacts.bucket_name
            ),
            stages=[
                codepipeline.CfnPipeline.StageDeclarationProperty(name="Source", actions=[source]),
                codepipeline.CfnPipeline.StageDeclarationProperty(name="Provision", actions=[hand_off]),
            ],
            # Only a push to the branch that changes the file starts the pipeline (V2 trigger filters).
            triggers=[
                codepipeline.CfnPipeline.PipelineTriggerDeclarationProperty(
                    provider_type="CodeStarSourceConnection",
                    git_configuration=codepipeline.CfnPipeline.GitConfigurationProperty(
                        source_action_name="Source",
                        push=[
                            codepipeline.CfnPipeline.GitPushFilterProperty(
                                branches=codepipeline.CfnPipeline.GitBranchFilterCriteriaProperty(includes=[branch]),
                                file_paths=codepipeline.CfnPipeline.GitFilePathFilterCriteriaProperty(
                                    includes=[CONFIG_FILE]
                                ),
                            )
                        ],
                    ),
                )
            ],
        )
        self.pipeline.node.add_dependency(self.pipeline_role)
        policy = iam.Policy(
            self,
            "ConnectionTriggerPolicy",
            document=permissions.policy_document(
                permissions.connection_job_statements(self.artifacts.bucket_arn, RESULT_FILE)
            ),
        )
        policy.attach_to_role(function_role)
        only_if(condition, self.artifacts, self.pipeline_role, self.pipeline, policy)
        reason = (
            "CodePipeline names the artifacts it keeps in this pipeline's own artifact bucket "
            "(<pipeline name>/<artifact>/<id>)"
        )
        acknowledge(
            self.pipeline_role,
            ("AwsSolutions-IAM5[Resource::<ConnectionArtifacts33909CC4.Arn>/*]", reason),
        )
        acknowledge(
            policy,
            ("AwsSolutions-IAM5[Resource::<ConnectionArtifacts33909CC4.Arn>/*]", reason),
            (
                "AwsSolutions-IAM5[Resource::*]",
                "CodePipeline's PutJobSuccessResult and PutJobFailureResult take no resource",
            ),
        )
