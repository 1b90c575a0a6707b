# SPDX-License-Identifier: Apache-2.0
"""Config-file triggers, each only when its parameter is set: a push of mlops-config.json to the CodeCommit
repository's main branch, or its upload to the config bucket, provisions from it."""

from __future__ import annotations

from aws_cdk import Aws, CfnCondition, Fn, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as aws_lambda
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.triggers import CONFIG_FILE, TRIGGER_BRANCH

from . import permissions
from .conditional import added_children, only_if
from .logical_ids import StackLevel


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
