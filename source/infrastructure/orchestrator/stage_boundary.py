# SPDX-License-Identifier: Apache-2.0
"""The permissions boundary in each stage account of a multi-account orchestrator, made by a StackSet the stack
deploys before any pipeline: the pipelines' StackSets then create roles there only under that boundary."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aws, CfnCondition, CfnStackSet, Fn, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infrastructure import boundary

from .logical_ids import StackLevel

# The template's own parameters: what it reads of the orchestrator's account.
ASSETS, BLUEPRINTS, REPOSITORY = "AssetsBucket", "BlueprintsBucket", "RepositoryArn"


def stage_boundary_template(scope: Construct) -> dict[str, Any]:
    """The template each stage account gets: one managed policy, `boundary.STAGE_BOUNDARY_NAME`. Its pseudo
    parameters are the stage account's, where CloudFormation resolves them."""
    arn = boundary.stage_boundary_arn(Aws.ACCOUNT_ID)
    document = iam.PolicyDocument(
        statements=boundary.stage_boundary_statements(
            arn, orchestrator_buckets=[Fn.ref(ASSETS), Fn.ref(BLUEPRINTS)], repository_arn=Fn.ref(REPOSITORY)
        )
    )
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Permissions boundary of the roles the MLOps pipelines create in this account",
        "Parameters": {
            ASSETS: {"Type": "String", "Description": "The orchestrator's assets bucket (read-only)"},
            BLUEPRINTS: {"Type": "String", "Description": "The orchestrator's blueprints bucket (read-only)"},
            REPOSITORY: {"Type": "String", "Description": "The orchestrator's ECR repository (pull only)"},
        },
        "Resources": {
            "PermissionsBoundary": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "ManagedPolicyName": boundary.STAGE_BOUNDARY_NAME,
                    "Description": "Permissions boundary of every role the MLOps pipelines create in this account",
                    "PolicyDocument": Stack.of(scope).resolve(document.to_json()),
                },
            }
        },
    }


class StageBoundary(StackLevel):
    """A service-managed StackSet (AWS::CloudFormation::StackSet, https://docs.aws.amazon.com/AWSCloudFormation/
    latest/TemplateReference/aws-resource-cloudformation-stackset.html) targeting the stages' organizational units
    in the stack's region, with automatic deployment, so an account moved into a stage's unit gets the boundary
    too. `CallAs` is DELEGATED_ADMIN from a delegated administrator account, SELF from the management account
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        delegated_admin: str,
        org_unit_ids: list[str],
        assets_bucket: str,
        blueprints_bucket: str,
        repository_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        delegated = CfnCondition(
            self, "StageBoundaryByDelegatedAdmin", expression=Fn.condition_equals(delegated_admin, "Yes")
        )
        body = json.dumps(stage_boundary_template(self), separators=(",", ":"), sort_keys=True)
        self.stack_set = CfnStackSet(
            self,
            "StageBoundaryStackSet",
            stack_set_name=f"{Aws.STACK_NAME}-stage-boundary",
            description="Permissions boundary of the MLOps pipelines' roles in each stage account",
            permission_model="SERVICE_MANAGED",
            auto_deployment=CfnStackSet.AutoDeploymentProperty(enabled=True, retain_stacks_on_account_removal=False),
            call_as=Fn.condition_if(delegated.logical_id, "DELEGATED_ADMIN", "SELF").to_string(),
            capabilities=["CAPABILITY_NAMED_IAM"],
            managed_execution={"Active": True},
            operation_preferences=CfnStackSet.OperationPreferencesProperty(
                failure_tolerance_count=0, max_concurrent_count=3, region_concurrency_type="PARALLEL"
            ),
            parameters=[
                CfnStackSet.ParameterProperty(parameter_key=ASSETS, parameter_value=assets_bucket),
                CfnStackSet.ParameterProperty(parameter_key=BLUEPRINTS, parameter_value=blueprints_bucket),
                CfnStackSet.ParameterProperty(parameter_key=REPOSITORY, parameter_value=repository_arn),
            ],
            stack_instances_group=[
                CfnStackSet.StackInstancesProperty(
                    deployment_targets=CfnStackSet.DeploymentTargetsProperty(organizational_unit_ids=org_unit_ids),
                    regions=[Aws.REGION],
                )
            ],
            template_body=body,
        )
