# SPDX-License-Identifier: Apache-2.0
"""What the pipelines' stacks run with: the permissions boundary of every role they create (the user's own, or
one made here), and the role CloudFormation assumes for the stacks the orchestrator creates."""

from __future__ import annotations

from aws_cdk import CfnCondition, Fn
from aws_cdk import aws_iam as iam
from constructs import Construct

from infrastructure import boundary
from infrastructure.checkov import skip_checks
from infrastructure.nag import acknowledge

from . import permissions
from .conditional import only_if
from .logical_ids import StackLevel


class PipelineStackRoles(StackLevel):
    """The permissions boundary (created when `create_boundary` holds, else `existing_boundary_arn`) and the
    CloudFormation role, which may publish to `topic_arn` and read the blueprints bucket."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        create_boundary: CfnCondition,
        existing_boundary_arn: str,
        topic_arn: str,
        blueprints_bucket_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        policy = iam.ManagedPolicy(
            self,
            "PipelinePermissionsBoundary",
            managed_policy_name=boundary.boundary_policy_name(),
            description="Permissions boundary of every role the MLOps pipelines create",
            document=iam.PolicyDocument(statements=boundary.boundary_statements(boundary.boundary_policy_arn())),
        )
        only_if(create_boundary, policy)
        cap = (
            "A permissions boundary grants nothing: it caps the roles it is attached to, whose own policies name "
            "every action and resource; of IAM it allows only mlops-pipeline* roles that carry this boundary"
        )
        skip_checks(policy, *[(f"CKV_AWS_{number}", cap) for number in range(107, 112)])
        self.boundary_arn = Fn.condition_if(
            create_boundary.logical_id,
            policy.managed_policy_arn,
            existing_boundary_arn,
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

        grants = permissions.cloudformation_role_statements(topic_arn=topic_arn, boundary_arn=self.boundary_arn)
        grants += permissions.cloudformation_handler_statements(blueprints_bucket_arn=blueprints_bucket_arn)
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
