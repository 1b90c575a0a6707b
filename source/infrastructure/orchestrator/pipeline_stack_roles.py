# SPDX-License-Identifier: Apache-2.0
"""What the pipelines' stacks run with: the permissions boundary of every role they create (the user's own, or
one made here), and the role CloudFormation assumes for the stacks the orchestrator creates."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnCondition, Fn, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infrastructure import boundary
from infrastructure.checkov import skip_checks
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.catalogue import ARTIFACT_WRITERS_PATH

from . import permissions
from .conditional import only_if
from .logical_ids import StackLevel


def _nag_form(value: Any) -> str:
    """A resolved resource as cdk-nag names it in a finding: `arn:<AWS::Partition>:...` for a join of strings and
    references, the JSON of anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1:  # a list token resolves inside a list
        return _nag_form(value[0])
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and set(value) == {"Fn::Join"} and value["Fn::Join"][0] == "":
        parts = [_nag_form(part) for part in value["Fn::Join"][1]]
        if all(not part.startswith("{") for part in parts):
            return "".join(parts)
    return json.dumps(value, separators=(",", ":"))


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
        bucket_names: list[str],
        data_buckets: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # Every bucket of the account when the operator names none (the data perimeter's AllowedDataBuckets).
        any_data_bucket = CfnCondition(self, "AnyDataBucket", expression=Fn.condition_equals(data_buckets, ""))
        s3 = boundary.s3_resources(bucket_names, data_buckets, any_data_bucket)
        policy = iam.ManagedPolicy(
            self,
            "PipelinePermissionsBoundary",
            managed_policy_name=boundary.boundary_policy_name(),
            description="Permissions boundary of every role the MLOps pipelines create",
            document=iam.PolicyDocument(statements=boundary.boundary_statements(boundary.boundary_policy_arn(), s3=s3)),
        )
        only_if(create_boundary, policy)
        self.boundary_policy = policy
        cap = (
            "A permissions boundary grants nothing: it caps the roles it is attached to, whose own policies name "
            "every action and resource; of IAM it allows only mlops-pipeline* roles that carry this boundary"
        )
        skip_checks(policy, *[(f"CKV_AWS_{number}", cap) for number in range(107, 112)])
        # The ARN the policy will have, not a reference to it: the boundary names the orchestrator's function and roles
        # (guard_orchestrator), which carry this ARN, so a reference would be a cycle.
        self.boundary_arn = Fn.condition_if(
            create_boundary.logical_id,
            boundary.boundary_policy_arn(),
            existing_boundary_arn,
        ).to_string()
        acknowledge(
            policy,
            *[
                (
                    f"AwsSolutions-IAM5[Action::{service}:*]",
                    "A permissions boundary caps each role by service on the resources it names; the role's own "
                    "policy names every action it holds (the named actions would exceed IAM's policy size limit)",
                )
                for service in boundary.BOUNDED_SERVICES
            ],
            *[
                (
                    f"AwsSolutions-IAM5[Action::{pattern}]",
                    "Matches only actions AWS authorizes on no resource type (checked against the Service "
                    "Authorization Reference); written as a pattern for IAM's policy size limit",
                )
                for pattern in boundary.ANY_RESOURCE_PATTERNS
            ],
            (
                "AwsSolutions-IAM5[Resource::*]",
                "Only the actions AWS authorizes on no resource type (the Service Authorization Reference), and denies",
            ),
            *[
                (
                    f"AwsSolutions-IAM5[Resource::{_nag_form(Stack.of(self).resolve(resource))}]",
                    "The boundary's resource patterns: the pipelines' own (their stacks name them mlops-pipeline*), "
                    "this account's SageMaker, ECR, SNS, scaling and API resources, keys through S3 and SageMaker, "
                    "the pipelines' buckets",
                )
                for resource in [
                    *boundary.pipeline_resources(),
                    boundary.pipeline_roles(),
                    boundary.pipeline_roles(ARTIFACT_WRITERS_PATH),
                    boundary.key_resources(),
                ]
            ],
        )
        self._s3 = s3

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

    def acknowledge_buckets(self) -> None:
        """The boundary's bucket list, acknowledged by the logical IDs the stack's resources end with (call last)."""
        acknowledge(
            self.boundary_policy,
            (
                f"AwsSolutions-IAM5[Resource::{_nag_form(Stack.of(self).resolve(self._s3))}]",
                "The pipelines' buckets: the orchestrator's and AllowedDataBuckets (every bucket of this account when "
                "it is empty), objects included",
            ),
        )

    def guard_orchestrator(self, orchestrator: boundary.Orchestrator) -> None:
        """Deny every role under the boundary (and the CloudFormation role) changing the orchestrator itself."""
        guards = boundary.orchestrator_guard_statements(orchestrator)
        self.boundary_policy.add_statements(*guards)
        # The CloudFormation role carries no boundary of its own: a boundary caps what the role's policies may grant,
        # and no principal of the solution may write them (the boundary denies iam:* on this role; the role itself
        # writes only mlops-pipeline* roles). What a boundary would add for it is these denies, given here as a
        # policy of their own (one that names the role inside the role's own policy would be a cycle).
        iam.Policy(self, "CloudformationRoleGuards", statements=guards, roles=[self.cfn_role])
