# SPDX-License-Identifier: Apache-2.0
"""The stage accounts of a multi-account orchestrator, judged on the synthesized template: the boundary its StackSet
creates in each of them, and what they may read of the orchestrator's account, through whom."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.pipeline_orchestration.catalogue import STAGE_BOUNDARY_POLICY_NAME
from lambdas.pipeline_orchestration.planner import plan_pipeline
from lambdas.pipeline_orchestration.validation import validate

from .examples import ACCOUNT, body, settings
from .policy_eval import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, Request, concrete, decide

pytestmark = pytest.mark.synth

MULTI = "mlops-orchestrator-multi-account"
STAGE = "222222222222"  # the dev account
OTHER_STAGE_ROLE = f"arn:aws:iam::{STAGE}:role/Admin"
# Roles the pipelines' StackSets create in a stage account: CloudFormation names them after the instance's stack,
# `StackSet-<StackSet name>-<UUID>`; a blueprint's own names begin with mlops-pipeline.
STAGE_MODEL_ROLE = f"arn:aws:iam::{STAGE}:role/StackSet-mlops-pipeline-churn-dev-1a2b3c4d-ModelRole-1A2B3C"
STAGE_NAMED_ROLE = f"arn:aws:iam::{STAGE}:role/mlops-pipeline-churn-dev-endpoint"
STACKSET_EXECUTION = f"arn:aws:iam::{STAGE}:role/stacksets-exec-0123456789abcdef0123456789abcdef"
STAGE_BOUNDARY = f"arn:aws:iam::{STAGE}:policy/{STAGE_BOUNDARY_POLICY_NAME}"
ASSETS, BLUEPRINTS = "mlops-assets", "mlops-blueprints"
REPOSITORY = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/mlops-custom-algorithms"
MANAGED_POLICY_LIMIT = 6144  # IAM's quota on a managed policy ("Managed policy size", whitespace not counted)
STAGE_PARAMETERS = {
    "DevAccountId": STAGE,
    "StagingAccountId": "333333333333",
    "ProdAccountId": "444444444444",
    "DevOrgId": "ou-ab12-dev00000",
    "StagingOrgId": "ou-ab12-staging0",
    "ProdOrgId": "ou-ab12-prod0000",
}


def _id(template: dict[str, Any], resource_type: str, prefix: str) -> str:
    (found,) = [k for k, r in template["Resources"].items() if r["Type"] == resource_type and k.startswith(prefix)]
    return found


def _orchestrator(synthesized: Any) -> dict[str, Any]:
    template = synthesized.templates[MULTI]
    assets, blueprints = _id(template, "AWS::S3::Bucket", "AssetsS3Bucket"), _id(template, "AWS::S3::Bucket", "Blue")
    values = {
        "NotificationEmail": "ops@example.com",
        "CreateModelRegistry": "Yes",
        assets: ASSETS,
        f"{assets}.Arn": f"arn:aws:s3:::{ASSETS}",
        blueprints: BLUEPRINTS,
        f"{blueprints}.Arn": f"arn:aws:s3:::{BLUEPRINTS}",
        f"{_id(template, 'AWS::ECR::Repository', 'ECRRepo')}.Arn": REPOSITORY,
        "AWS::StackName": "mlops-orchestrator",
        **STAGE_PARAMETERS,
    }
    return concrete(template, values)["Resources"]


def _stack_set(synthesized: Any) -> dict[str, Any]:
    (found,) = [r for r in _orchestrator(synthesized).values() if r["Type"] == "AWS::CloudFormation::StackSet"]
    return found


def _stage_boundary(synthesized: Any) -> list[dict[str, Any]]:
    """The boundary as the StackSet creates it in the dev account."""
    properties = _stack_set(synthesized)["Properties"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in properties["Parameters"]}
    template = json.loads(properties["TemplateBody"])
    resources = concrete(template, {**parameters, "AWS::AccountId": STAGE})["Resources"]
    (policy,) = resources.values()
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    assert policy["Properties"]["ManagedPolicyName"] == STAGE_BOUNDARY_POLICY_NAME
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _anything(*services: str) -> list[dict[str, Any]]:
    """A role's own policy as a compromised template would write it: whole services on every resource."""
    return [{"Effect": "Allow", "Action": [f"{service}:*" for service in services], "Resource": "*"}]


def _decide(request: Request, identity: list[dict[str, Any]], boundary: list[dict[str, Any]]) -> str:
    return decide(request, identity, boundary=boundary)


# ---------------------------------------------------------------------------------------------------------
# The boundary in each stage account


def test_a_stackset_creates_the_boundary_in_every_stage_account_before_any_pipeline(synthesized):
    template = synthesized.templates[MULTI]
    logical_id = _id(template, "AWS::CloudFormation::StackSet", "StageBoundary")
    properties = _stack_set(synthesized)["Properties"]
    assert properties["PermissionModel"] == "SERVICE_MANAGED"
    assert properties["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert properties["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    (group,) = properties["StackInstancesGroup"]
    assert group["Regions"] == ["us-east-1"]
    assert group["DeploymentTargets"]["OrganizationalUnitIds"] == [
        STAGE_PARAMETERS[f"{stage}OrgId"] for stage in ("Dev", "Staging", "Prod")
    ]
    call_as = template["Resources"][logical_id]["Properties"]["CallAs"]["Fn::If"]
    assert call_as[1:] == ["DELEGATED_ADMIN", "SELF"]
    assert template["Conditions"][call_as[0]] == {"Fn::Equals": [{"Ref": "DelegatedAdminAccount"}, "Yes"]}
    function = _id(template, "AWS::Lambda::Function", "PipelineOrchestrationFunction")
    assert logical_id in template["Resources"][function]["DependsOn"]
    assert not [
        r
        for r in synthesized.templates["mlops-orchestrator-single-account"]["Resources"].values()
        if (r["Type"] == "AWS::CloudFormation::StackSet")
    ]


def test_the_stage_boundary_fits_in_one_managed_policy(synthesized):
    boundary = _stage_boundary(synthesized)
    assert not any("Fn::" in json.dumps(s) or "Ref" in json.dumps(s) for s in boundary)
    size = len(json.dumps({"Version": "2012-10-17", "Statement": boundary}, separators=(",", ":")))
    assert size < MANAGED_POLICY_LIMIT


def test_a_role_in_a_stage_account_reaches_only_its_pipelines_resources(synthesized):
    boundary = _stage_boundary(synthesized)
    own = _anything("lambda", "logs", "s3", "ecr", "iam", "states")
    region = f"us-east-1:{STAGE}"
    cases = {
        ("lambda:UpdateFunctionCode", f"arn:aws:lambda:{region}:function:StackSet-mlops-pipeline-churn-d-Fn-1A"): ALLOW,
        ("lambda:UpdateFunctionCode", f"arn:aws:lambda:{region}:function:mlops-pipeline-churn-dev-fn"): ALLOW,
        ("lambda:UpdateFunctionCode", f"arn:aws:lambda:{region}:function:payments"): IMPLICIT_DENY,
        ("states:StartExecution", f"arn:aws:states:{region}:stateMachine:ledger"): IMPLICIT_DENY,
        ("logs:DeleteLogGroup", f"arn:aws:logs:{region}:log-group:/aws/cloudtrail/audit"): IMPLICIT_DENY,
        # The orchestrator's buckets and repository: read, never written.
        ("s3:GetObject", f"arn:aws:s3:::{ASSETS}/models/churn/model.tar.gz"): ALLOW,
        ("s3:GetObject", f"arn:aws:s3:::{BLUEPRINTS}/blueprints/lambdas/x.zip"): ALLOW,
        ("s3:PutObject", f"arn:aws:s3:::{ASSETS}/models/churn/model.tar.gz"): IMPLICIT_DENY,
        ("s3:PutObject", f"arn:aws:s3:::{BLUEPRINTS}/blueprints/lambdas/x.zip"): IMPLICIT_DENY,
        ("ecr:BatchGetImage", REPOSITORY): ALLOW,
        ("ecr:PutImage", REPOSITORY): IMPLICIT_DENY,
        # Its boundary is fixed, and no role loses it.
        ("iam:CreatePolicyVersion", STAGE_BOUNDARY): EXPLICIT_DENY,
        ("iam:DeletePolicy", STAGE_BOUNDARY): EXPLICIT_DENY,
        ("iam:DeleteRolePermissionsBoundary", STAGE_MODEL_ROLE): EXPLICIT_DENY,
        ("iam:CreateUser", f"arn:aws:iam::{STAGE}:user/x"): IMPLICIT_DENY,
    }
    for (action, resource), expected in cases.items():
        assert _decide(Request(STAGE_MODEL_ROLE, action, resource), own, boundary) == expected, (action, resource)
    # Its own account's buckets, not another's.
    own_bucket = Request(STAGE_MODEL_ROLE, "s3:PutObject", "arn:aws:s3:::dev-data/x", {"s3:ResourceAccount": STAGE})
    assert _decide(own_bucket, own, boundary) == ALLOW
    foreign = Request(STAGE_MODEL_ROLE, "s3:PutObject", "arn:aws:s3:::loot/x", {"s3:ResourceAccount": "999999999999"})
    assert _decide(foreign, own, boundary) == IMPLICIT_DENY
    # Roles it writes carry this boundary.
    for role in (STAGE_MODEL_ROLE, STAGE_NAMED_ROLE):
        with_it = Request(STAGE_MODEL_ROLE, "iam:PutRolePolicy", role, {"iam:PermissionsBoundary": STAGE_BOUNDARY})
        assert _decide(with_it, own, boundary) == ALLOW, role
        assert _decide(Request(STAGE_MODEL_ROLE, "iam:PutRolePolicy", role), own, boundary) == IMPLICIT_DENY
    admin = Request(
        STAGE_MODEL_ROLE, "iam:PutRolePolicy", OTHER_STAGE_ROLE, {"iam:PermissionsBoundary": STAGE_BOUNDARY}
    )
    assert _decide(admin, own, boundary) == IMPLICIT_DENY


def test_a_stage_stack_carries_the_stage_accounts_boundary():
    """Each StackSet stage names the boundary of its own account; the orchestrator's own stack keeps its own."""
    multi = settings(multi_account=True)
    plan = plan_pipeline(validate(body("byom_realtime_builtin"), multi), multi)
    assert plan.stack_parameters["PermissionsBoundaryArn"] == multi.permissions_boundary_arn
    targets = multi.stage_targets or {}
    assert {stage.stage: stage.parameters["PermissionsBoundaryArn"] for stage in plan.stages} == {
        name: f"arn:aws:iam::{target.account_id}:policy/{STAGE_BOUNDARY_POLICY_NAME}"
        for name, target in targets.items()
    }


# ---------------------------------------------------------------------------------------------------------
# What the stage accounts read of the orchestrator's account


def _resource_policy(synthesized: Any, prefix: str, where: str) -> list[dict[str, Any]]:
    resources = _orchestrator(synthesized)
    (resource,) = [r for k, r in resources.items() if k.startswith(prefix)]
    document = resource["Properties"][where]
    return document["Statement"]


def _read(principal: str, action: str, resource: str) -> Request:
    return Request(principal, action, resource, {"aws:PrincipalArn": principal, "aws:SecureTransport": "true"})


def test_stage_accounts_read_the_buckets_only_through_their_pipelines_roles(synthesized):
    assets = _resource_policy(synthesized, "AssetsS3BucketPolicy", "PolicyDocument")
    model = f"arn:aws:s3:::{ASSETS}/models/churn/model.tar.gz"
    for role in (STAGE_MODEL_ROLE, STAGE_NAMED_ROLE):
        assert decide(_read(role, "s3:GetObject", model), [], assets) == ALLOW, role
    assert decide(_read(OTHER_STAGE_ROLE, "s3:GetObject", model), [], assets) == IMPLICIT_DENY
    assert decide(_read(STAGE_MODEL_ROLE, "s3:PutObject", model), [], assets) == IMPLICIT_DENY
    # Never what a pipeline deploys, nor the whole bucket's listing.
    template = f"arn:aws:s3:::{ASSETS}/mlops_provisioned_pipelines/mlops-pipeline-churn/template.zip"
    assert decide(_read(STAGE_MODEL_ROLE, "s3:GetObject", template), [], assets) == EXPLICIT_DENY
    assert decide(_read(STAGE_MODEL_ROLE, "s3:ListBucket", f"arn:aws:s3:::{ASSETS}"), [], assets) == IMPLICIT_DENY

    blueprints = _resource_policy(synthesized, "BlueprintRepositoryPolicy", "PolicyDocument")
    code = f"arn:aws:s3:::{BLUEPRINTS}/blueprints/lambdas/inference.zip"
    for role in (STAGE_MODEL_ROLE, STACKSET_EXECUTION):  # CloudFormation's CreateFunction reads the code
        assert decide(_read(role, "s3:GetObject", code), [], blueprints) == ALLOW, role
    assert decide(_read(OTHER_STAGE_ROLE, "s3:GetObject", code), [], blueprints) == IMPLICIT_DENY
    elsewhere = f"arn:aws:s3:::{BLUEPRINTS}/blueprints.zip"
    assert decide(_read(STAGE_MODEL_ROLE, "s3:GetObject", elsewhere), [], blueprints) == IMPLICIT_DENY


def test_stage_accounts_pull_images_and_use_models_only_through_their_pipelines_roles(synthesized):
    repository = _resource_policy(synthesized, "ECRRepo", "RepositoryPolicyText")
    repository = [{**s, "Resource": REPOSITORY} for s in repository]  # a repository policy names no resource
    assert decide(_read(STAGE_MODEL_ROLE, "ecr:BatchGetImage", REPOSITORY), [], repository) == ALLOW
    assert decide(_read(OTHER_STAGE_ROLE, "ecr:BatchGetImage", REPOSITORY), [], repository) == IMPLICIT_DENY
    registry = _resource_policy(synthesized, "ModelRegistry", "ModelPackageGroupPolicy")
    package = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/*"
    registry = [{**s, "Resource": package} for s in registry]
    for role in (STAGE_MODEL_ROLE, STACKSET_EXECUTION):
        assert decide(_read(role, "sagemaker:DescribeModelPackage", package), [], registry) == ALLOW, role
    assert decide(_read(OTHER_STAGE_ROLE, "sagemaker:DescribeModelPackage", package), [], registry) == IMPLICIT_DENY
