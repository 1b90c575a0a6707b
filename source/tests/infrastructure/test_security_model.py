# SPDX-License-Identifier: Apache-2.0
"""The security model, judged on the synthesized templates: who may write what a pipeline deploys, what a role
a pipeline creates can ever hold, and that a failed event is kept and told."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match

from app import stack_id
from infrastructure.blueprints import BLUEPRINT_STACKS
from lambdas.pipeline_orchestration.catalogue import ARTIFACT_WRITERS_PATH, CATALOGUE, IMAGE_BUILDER
from lambdas.pipeline_orchestration.planner import plan_pipeline, template_url
from lambdas.pipeline_orchestration.validation import validate

from .examples import ACCOUNT, body, settings
from .policy_eval import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, Request, concrete, decide

pytestmark = pytest.mark.synth
IMAGE_BUILDER_TEMPLATE = IMAGE_BUILDER.template

SINGLE, MULTI = "mlops-orchestrator-single-account", "mlops-orchestrator-multi-account"
BOTH = [SINGLE, MULTI]
ASSETS = "mlops-assets"
ARTIFACTS = "mlops-pipeline-artifacts-1a2b3c"
ORCHESTRATOR_ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlops-orchestrator-OrchestratorRole-1A2B3C"
CFN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlops-orchestrator-MLOpsCloudformationRole-4D5E6F"
USER = f"arn:aws:iam::{ACCOUNT}:role/data-scientist"
PIPELINE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlops-pipeline-churn-xgb-byompipeli-PipelineRole-7G8H9I"
# A wrapper pipeline's own role, on the path that alone may write artifacts.
ARTIFACT_WRITER = f"arn:aws:iam::{ACCOUNT}:role{ARTIFACT_WRITERS_PATH}mlops-pipeline-churn-xgb-PipelineRole-7G8H9I"
# A role a blueprint stack creates for a job, whose S3 scope a request chooses.
JOB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlops-pipeline-churn-xgb-modeltraini-TrainingRole-1J2K3L"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/mlops-orchestrator-PermissionsBoundary"
ORCHESTRATOR_FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:mlops-orchestrator-PipelineOrchestrationFun-1A2B"
ORCHESTRATOR_API = "a1b2c3d4e5"
# IAM's quota on a managed policy's size, whitespace not counted ("Managed policy size",
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
MANAGED_POLICY_LIMIT = 6144
OTHER_BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/anything-goes"
TEMPLATE_ZIP = "mlops_provisioned_pipelines/mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin/template.zip"
# A user who uploads model artifacts: allowed to write anywhere in the assets bucket.
UPLOADER = [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": f"arn:aws:s3:::{ASSETS}/*"}]


def _id(template: dict[str, Any], resource_type: str, prefix: str) -> str:
    (found,) = [k for k, r in template["Resources"].items() if r["Type"] == resource_type and k.startswith(prefix)]
    return found


def _orchestrator(synthesized: Any, stack: str = SINGLE, **parameters: str) -> dict[str, Any]:
    """The orchestrator stack's resources as deployed, with its own assets bucket and boundary."""
    template = synthesized.templates[stack]
    values = {
        "NotificationEmail": "ops@example.com",
        _id(template, "AWS::S3::Bucket", "AssetsS3Bucket"): ASSETS,
        f"{_id(template, 'AWS::S3::Bucket', 'AssetsS3Bucket')}.Arn": f"arn:aws:s3:::{ASSETS}",
        _id(template, "AWS::S3::Bucket", "BlueprintRepository"): "mlops-blueprints",
        f"{_id(template, 'AWS::S3::Bucket', 'BlueprintRepository')}.Arn": "arn:aws:s3:::mlops-blueprints",
        f"{_id(template, 'AWS::IAM::Role', 'OrchestratorRole')}.Arn": ORCHESTRATOR_ROLE,
        f"{_id(template, 'AWS::IAM::Role', 'MLOpsCloudformationRole')}.Arn": CFN_ROLE,
        _id(template, "AWS::IAM::ManagedPolicy", "PipelinePermissionsBoundary"): BOUNDARY,
        _id(template, "AWS::S3::Bucket", "PipelineArtifactsBucket"): ARTIFACTS,
        f"{_id(template, 'AWS::S3::Bucket', 'PipelineArtifactsBucket')}.Arn": f"arn:aws:s3:::{ARTIFACTS}",
        f"{_id(template, 'AWS::Lambda::Function', 'PipelineOrchestrationFunction')}.Arn": ORCHESTRATOR_FUNCTION,
        _id(template, "AWS::ApiGateway::RestApi", "PipelineOrchestrationLambdaRestApi"): ORCHESTRATOR_API,
        "AWS::StackName": "mlops-orchestrator",
        **parameters,
    }
    return concrete(template, values)["Resources"]


def _statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    properties = resource["Properties"]
    if "PolicyDocument" in properties:
        return properties["PolicyDocument"]["Statement"]
    return [s for policy in properties.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def _of(resources: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [s for k, r in resources.items() if k.startswith(prefix) for s in _statements(r)]


def _put(principal: str, key: str, action: str = "s3:PutObject", bucket: str = ASSETS) -> Request:
    return Request(
        principal,
        action,
        f"arn:aws:s3:::{bucket}/{key}",
        {"aws:PrincipalArn": principal, "aws:SecureTransport": "true"},
    )


# ---------------------------------------------------------------------------------------------------------
# Template integrity: only the orchestrator writes what a pipeline deploys


@pytest.mark.parametrize("stack", BOTH)
def test_a_template_uploaded_by_anyone_but_the_orchestrator_is_refused(synthesized, stack):
    resources = _orchestrator(synthesized, stack)
    bucket_policy = _of(resources, "AssetsS3BucketPolicy")
    orchestrator = _of(resources, "OrchestratorPolicy")

    assert decide(_put(USER, TEMPLATE_ZIP), UPLOADER, bucket_policy) == EXPLICIT_DENY
    assert decide(_put(USER, TEMPLATE_ZIP, "s3:DeleteObject"), UPLOADER, bucket_policy) == EXPLICIT_DENY
    # The same user still uploads models and data where the README says.
    assert decide(_put(USER, "models/churn/model.tar.gz"), UPLOADER, bucket_policy) == ALLOW
    assert decide(_put(ORCHESTRATOR_ROLE, TEMPLATE_ZIP), orchestrator, bucket_policy) == ALLOW


@pytest.mark.parametrize("stack", BOTH)
def test_pipeline_artifacts_are_written_by_the_pipelines_alone(synthesized, stack):
    resources = _orchestrator(synthesized, stack)
    everywhere = [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::*"}]
    for bucket, policy in ((ARTIFACTS, "PipelineArtifactsBucketPolicy"), (ASSETS, "AssetsS3BucketPolicy")):
        bucket_policy = _of(resources, policy)
        artifact = "mlops-pipeline-churn/Artifact_S/Ab1Cd2E"
        for principal in (USER, JOB_ROLE, PIPELINE_ROLE):  # PIPELINE_ROLE: named like a pipeline's, off the path
            request = _put(principal, artifact, bucket=bucket)
            assert decide(request, everywhere, bucket_policy) == EXPLICIT_DENY, (bucket, principal)
            delete = _put(principal, artifact, "s3:DeleteObjectVersion", bucket=bucket)
            assert decide(delete, [{**everywhere[0], "Action": "s3:*"}], bucket_policy) == EXPLICIT_DENY
        assert decide(_put(ARTIFACT_WRITER, artifact, bucket=bucket), everywhere, bucket_policy) == ALLOW


def _artifact_store(synthesized: Any, wrapper: str) -> str:
    """The bucket a wrapper pipeline keeps its artifacts in, for the parameters the orchestrator sends it."""
    multi = wrapper == "multi-account-codepipeline"
    plan = plan_pipeline(validate(body("byom_realtime_builtin"), settings(multi)), settings(multi))
    values = {**plan.stack_parameters, "ArtifactBucket": ARTIFACTS, "AssetsBucket": ASSETS}
    resolved = concrete(synthesized.templates[wrapper], values)["Resources"]
    (pipeline,) = [r for r in resolved.values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    return pipeline["Properties"]["ArtifactStore"]["Location"]


def _base_values(synthesized: Any, template: str) -> dict[str, str]:
    """Parameters the orchestrator sends a blueprint for the first pipeline type that deploys it."""
    if template in ("single_account_codepipeline.yaml", "multi_account_codepipeline.yaml"):
        multi = template.startswith("multi")
        plan = plan_pipeline(validate(body("byom_realtime_builtin"), settings(multi)), settings(multi))
        return {**plan.stack_parameters, "ArtifactBucket": ARTIFACTS, "AssetsBucket": ASSETS}
    name = _deployed_by(template)
    request = body(name)
    alternative = CATALOGUE[name].alternative
    if alternative is not None:  # the monitors: the engine that deploys this template
        request["monitoring_engine"] = "open" if template == alternative.blueprint.template else "model_monitor"
    plan = plan_pipeline(validate(request, settings()), settings())
    assert plan.template == template
    return {**plan.stages[0].parameters, "AssetsBucket": ASSETS}


def _deployed_by(template: str) -> str:
    """The first pipeline type whose request deploys the template: its blueprint, or its alternative's (a monitor on
    the open engine)."""
    return next(
        n
        for n in sorted(CATALOGUE)
        if template
        in {CATALOGUE[n].blueprint.template}
        | {a.blueprint.template for a in ([CATALOGUE[n].alternative] if CATALOGUE[n].alternative else [])}
    )


def _hostile_variants(synthesized: Any, template: str, value: str) -> list[dict[str, str]]:
    """A valid request's parameters with each one in turn set to `value`: whatever a request that got past
    validation could make of any one value (parameters used as mapping keys cannot take it and are left)."""
    base = _base_values(synthesized, template)
    variants = []
    for name in synthesized.templates[stack_id(template)].get("Parameters", {}):
        variants.append({**base, name: value})
    return variants


def _roles_and_statements(template: dict[str, Any], values: dict[str, str]) -> tuple[list[str], list[dict]]:
    """The ARNs the template's roles get (their path kept), and every Allow its roles' policies hold."""
    resources = concrete(template, values)["Resources"]
    roles = [
        f"arn:aws:iam::{ACCOUNT}:role{r['Properties'].get('Path', '/')}mlops-pipeline-churn-xgb-{k[:20]}-1A2B3C"
        for k, r in resources.items()
        if r["Type"] == "AWS::IAM::Role"
    ]
    statements = [
        s
        for r in resources.values()
        if r["Type"] in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for s in _statements(r)
        if s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s
    ]
    return roles, statements


def test_no_job_role_with_any_request_values_writes_where_the_pipelines_artifacts_live(synthesized):
    """Every role of every blueprint, with every parameter a request fills set to the artifact store itself (or
    to `*`), holding all the Allows of its template: none may write or delete an artifact; the wrapper
    pipelines' own roles still may."""
    resources = _orchestrator(synthesized)
    policies = {
        ARTIFACTS: _of(resources, "PipelineArtifactsBucketPolicy"),
        ASSETS: _of(resources, "AssetsS3BucketPolicy"),
    }
    stores = {_artifact_store(synthesized, w) for w in ("single-account-codepipeline", "multi-account-codepipeline")}
    assert stores == {ARTIFACTS}
    artifact = "mlops-pipeline-victim/Artifact_S/Ab1Cd2E"
    reached_without_protection = set()
    writers = set()
    for name in sorted(BLUEPRINT_STACKS):
        template = synthesized.templates[stack_id(name)]
        variants = [
            v
            for h in (ARTIFACTS, "*", f"{ARTIFACTS}/mlops-pipeline-victim")
            for v in _hostile_variants(synthesized, name, h)
        ]
        for values in variants:
            try:
                roles, statements = _roles_and_statements(template, values)
            except KeyError:  # a mapping key (e.g. a memory size) that no location reaches
                continue
            for role in roles:
                for bucket in sorted(stores | {ASSETS}):
                    for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
                        request = _put(role, artifact, action, bucket=bucket)
                        decision = decide(request, statements, policies[bucket])
                        if ARTIFACT_WRITERS_PATH in role:
                            writers.add(name)
                            continue
                        assert decision != ALLOW, (name, values, role, bucket, action)
                        if decide(request, statements) == ALLOW:
                            reached_without_protection.add(name)
    # The wrapper pipelines' own roles are the writers, and only they carry the path.
    assert writers == {"single_account_codepipeline.yaml", "multi_account_codepipeline.yaml", IMAGE_BUILDER_TEMPLATE}
    # Remove the bucket policies' protection and job roles do reach the artifacts: the case above is not empty.
    assert reached_without_protection - writers


@pytest.mark.parametrize("stack", BOTH)
def test_the_orchestrator_creates_stacks_only_from_its_blueprints(synthesized, stack):
    orchestrator = _of(_orchestrator(synthesized, stack), "OrchestratorPolicy")
    stack_arn = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/mlops-pipeline-churn-codepipeline/5f0e2a10"
    blueprint = template_url(settings(), "single_account_codepipeline.yaml")
    elsewhere = f"https://{ASSETS}.s3.us-east-1.amazonaws.com/mlops_provisioned_pipelines/evil.yaml"
    for action in ("cloudformation:CreateStack", "cloudformation:UpdateStack"):
        from_blueprints = Request(ORCHESTRATOR_ROLE, action, stack_arn, {"cloudformation:TemplateUrl": blueprint})
        from_elsewhere = Request(ORCHESTRATOR_ROLE, action, stack_arn, {"cloudformation:TemplateUrl": elsewhere})
        assert decide(from_blueprints, orchestrator) == ALLOW
        assert decide(from_elsewhere, orchestrator) == IMPLICIT_DENY


# ---------------------------------------------------------------------------------------------------------
# The permissions boundary


def _boundary(synthesized: Any, stack: str = SINGLE) -> list[dict[str, Any]]:
    return _of(_orchestrator(synthesized, stack), "PipelinePermissionsBoundary")


@pytest.mark.parametrize("stack", BOTH)
def test_the_orchestrator_creates_the_boundary_unless_given_one(synthesized, stack):
    template = synthesized.template(stack)
    template.has_resource(
        "AWS::IAM::ManagedPolicy",
        {
            "Condition": "CreatePermissionsBoundary",
            "Properties": {
                "ManagedPolicyName": {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-PermissionsBoundary"]]}
            },
        },
    )
    given = _orchestrator(synthesized, stack, PermissionsBoundaryArn=OTHER_BOUNDARY)
    assert not [k for k in given if k.startswith("PipelinePermissionsBoundary")]
    function = next(
        r
        for k, r in given.items()
        if k.startswith("PipelineOrchestrationFunction") and r["Type"] == "AWS::Lambda::Function"
    )
    assert function["Properties"]["Environment"]["Variables"]["PERMISSIONS_BOUNDARY_ARN"] == OTHER_BOUNDARY
    created = _orchestrator(synthesized, stack)
    function = next(
        r
        for k, r in created.items()
        if k.startswith("PipelineOrchestrationFunction") and r["Type"] == "AWS::Lambda::Function"
    )
    assert function["Properties"]["Environment"]["Variables"]["PERMISSIONS_BOUNDARY_ARN"] == BOUNDARY


def _role_request(action: str, boundary: str | None, role: str = PIPELINE_ROLE, **context: str) -> Request:
    keys = {"iam:PermissionsBoundary": boundary} if boundary else {}
    return Request(PIPELINE_ROLE, action, role, {**keys, **context})


def test_a_bounded_role_writes_only_roles_that_carry_the_boundary(synthesized):
    boundary = _boundary(synthesized)
    everything_iam = [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]  # whatever its own policy says
    other = f"arn:aws:iam::{ACCOUNT}:role/mlops-pipeline-other"
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy"):
        assert decide(_role_request(action, BOUNDARY, other), everything_iam, boundary=boundary) == ALLOW
        assert decide(_role_request(action, None, other), everything_iam, boundary=boundary) == IMPLICIT_DENY
        assert decide(_role_request(action, OTHER_BOUNDARY, other), everything_iam, boundary=boundary) == IMPLICIT_DENY
    admin = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    assert (
        decide(_role_request("iam:PutRolePolicy", BOUNDARY, admin), everything_iam, boundary=boundary) == IMPLICIT_DENY
    )
    for action, resource in (
        ("iam:CreatePolicyVersion", BOUNDARY),
        ("iam:DeletePolicy", BOUNDARY),
        ("iam:SetDefaultPolicyVersion", BOUNDARY),
        ("iam:DeleteRolePermissionsBoundary", other),
    ):
        request = Request(PIPELINE_ROLE, action, resource)
        assert decide(request, everything_iam, boundary=boundary) == EXPLICIT_DENY, action
    for action, resource in (
        ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x"),
        ("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/x"),
        ("iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/mlops-pipeline-x"),
        ("iam:PutGroupPolicy", f"arn:aws:iam::{ACCOUNT}:group/x"),
    ):
        assert decide(Request(PIPELINE_ROLE, action, resource), everything_iam, boundary=boundary) == IMPLICIT_DENY


def _anything(*services: str) -> list[dict[str, Any]]:
    """A role's own policy as a compromised template would write it: whole services on every resource."""
    return [{"Effect": "Allow", "Action": [f"{service}:*" for service in services], "Resource": "*"}]


@pytest.mark.parametrize("stack", BOTH)
def test_a_bounded_role_cannot_change_the_orchestrator(synthesized, stack):
    """Explicit denies (IAM's policy evaluation: a Deny in the boundary wins over any Allow,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
    boundary = _boundary(synthesized, stack)
    own = _anything("lambda", "iam", "apigateway", "s3", "cloudformation")
    pipeline_function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:mlops-pipeline-churn-xgb-Fn-1A2B"
    for function in (ORCHESTRATOR_FUNCTION, f"{ORCHESTRATOR_FUNCTION}:live"):
        request = Request(PIPELINE_ROLE, "lambda:UpdateFunctionCode", function)
        assert decide(request, own, boundary=boundary) == EXPLICIT_DENY
    assert (
        decide(Request(PIPELINE_ROLE, "lambda:UpdateFunctionCode", pipeline_function), own, boundary=boundary) == ALLOW
    )
    other_function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:payments"
    assert decide(Request(PIPELINE_ROLE, "lambda:UpdateFunctionCode", other_function), own, boundary=boundary) == (
        IMPLICIT_DENY
    )
    for role in (ORCHESTRATOR_ROLE, CFN_ROLE):
        for action in ("iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PassRole", "iam:UpdateAssumeRolePolicy"):
            request = Request(PIPELINE_ROLE, action, role, {"iam:PermissionsBoundary": BOUNDARY})
            assert decide(request, own, boundary=boundary) == EXPLICIT_DENY, (role, action)
    api = f"arn:aws:apigateway:us-east-1::/restapis/{ORCHESTRATOR_API}"
    for resource in (api, f"{api}/resources/abc/methods/POST"):
        assert decide(Request(PIPELINE_ROLE, "apigateway:PATCH", resource), own, boundary=boundary) == EXPLICIT_DENY
    for bucket in (ASSETS, ARTIFACTS, "mlops-blueprints"):
        for action in ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy"):
            request = Request(PIPELINE_ROLE, action, f"arn:aws:s3:::{bucket}", {"s3:ResourceAccount": ACCOUNT})
            assert decide(request, own, boundary=boundary) == EXPLICIT_DENY, (bucket, action)
    for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"):
        assert decide(Request(PIPELINE_ROLE, action, BOUNDARY), own, boundary=boundary) == EXPLICIT_DENY
    orchestrator_stack = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/mlops-orchestrator/5f0e2a10"
    request = Request(PIPELINE_ROLE, "cloudformation:UpdateStack", orchestrator_stack)
    assert decide(request, own, boundary=boundary) == EXPLICIT_DENY


@pytest.mark.parametrize("stack", BOTH)
def test_the_cloudformation_role_cannot_change_the_orchestrator(synthesized, stack):
    """It carries no boundary of its own (see PipelineStackRoles.guard_orchestrator): the same denies are its own."""
    resources = _orchestrator(synthesized, stack)
    statements = _of(resources, "MLOpsCloudformationRole") + _of(resources, "CloudformationRoleGuards")
    statements += _anything("lambda", "iam")
    assert decide(Request(CFN_ROLE, "lambda:UpdateFunctionCode", ORCHESTRATOR_FUNCTION), statements) == EXPLICIT_DENY
    assert decide(Request(CFN_ROLE, "iam:PutRolePolicy", ORCHESTRATOR_ROLE), statements) == EXPLICIT_DENY


@pytest.mark.parametrize("stack", BOTH)
def test_a_bounded_role_reaches_only_the_pipelines_resources(synthesized, stack):
    own = _anything("states", "codebuild", "codepipeline", "events", "logs", "cloudformation", "sns", "kms", "s3")
    region = f"us-east-1:{ACCOUNT}"
    cases = {
        f"arn:aws:states:{region}:stateMachine:mlops-pipeline-waiter-5f0e2a10": ALLOW,
        f"arn:aws:states:{region}:stateMachine:payroll": IMPLICIT_DENY,
        f"arn:aws:codebuild:{region}:project/mlops-pipeline-img-byomcustomalgorithmimagebuilder-image": ALLOW,
        f"arn:aws:codebuild:{region}:project/release-build": IMPLICIT_DENY,
        f"arn:aws:codepipeline:{region}:mlops-pipeline-churn-xgb-PipelineC660917D-1A2B": ALLOW,
        f"arn:aws:codepipeline:{region}:payments-release": IMPLICIT_DENY,
        f"arn:aws:events:{region}:rule/mlops-pipeline-churn-SourceChanged-1A2B": ALLOW,
        f"arn:aws:events:{region}:rule/audit-trail": IMPLICIT_DENY,
        f"arn:aws:logs:{region}:log-group:/aws/lambda/mlops-pipeline-churn-Fn-1A2B": ALLOW,
        f"arn:aws:logs:{region}:log-group:/aws/cloudtrail/audit": IMPLICIT_DENY,
        f"arn:aws:cloudformation:{region}:stack/mlops-pipeline-churn-xgb/5f0e2a10": ALLOW,
        f"arn:aws:cloudformation:{region}:stack/network-baseline/5f0e2a10": IMPLICIT_DENY,
        "arn:aws:sns:us-east-1:999999999999:exfiltrate": IMPLICIT_DENY,
    }
    boundary = _boundary(synthesized, stack)
    for resource, expected in cases.items():
        action = f"{resource.split(':')[2]}:Delete"
        assert decide(Request(PIPELINE_ROLE, action, resource), own, boundary=boundary) == expected, resource
    key = f"arn:aws:kms:{region}:key/1a2b"
    through_s3 = {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    assert decide(Request(PIPELINE_ROLE, "kms:Decrypt", key, through_s3), own, boundary=boundary) == ALLOW
    assert decide(Request(PIPELINE_ROLE, "kms:Decrypt", key), own, boundary=boundary) == IMPLICIT_DENY
    assert decide(Request(PIPELINE_ROLE, "kms:ScheduleKeyDeletion", key, through_s3), own, boundary=boundary) == (
        IMPLICIT_DENY
    )


def _s3(bucket: str, account: str = ACCOUNT) -> Request:
    return Request(PIPELINE_ROLE, "s3:GetObject", f"arn:aws:s3:::{bucket}/data.csv", {"s3:ResourceAccount": account})


def test_a_bounded_role_reads_only_the_allowed_buckets(synthesized):
    own = _anything("s3")
    anywhere = _boundary(synthesized)  # AllowedDataBuckets empty: any bucket of this account
    assert decide(_s3("team-data"), own, boundary=anywhere) == ALLOW
    assert decide(_s3("team-data", "999999999999"), own, boundary=anywhere) == IMPLICIT_DENY
    listed = _of(_orchestrator(synthesized, AllowedDataBuckets="team-data,features"), "PipelinePermissionsBoundary")
    for bucket in (ASSETS, ARTIFACTS, "team-data", "features"):
        assert decide(_s3(bucket), own, boundary=listed) == ALLOW, bucket
    for bucket in ("hr-payroll", "team-data-archive"):
        assert decide(_s3(bucket), own, boundary=listed) == IMPLICIT_DENY, bucket
    assert decide(_s3("team-data", "999999999999"), own, boundary=listed) == IMPLICIT_DENY


def _rendered_size(statements: list[dict[str, Any]]) -> int:
    return len(json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":")))


@pytest.mark.parametrize("stack", BOTH)
def test_the_boundary_fits_in_one_managed_policy(synthesized, stack):
    """One policy is a role's boundary, and IAM caps its size: measured with every intrinsic function resolved."""
    assert not any("Fn::" in json.dumps(s) or "Ref" in json.dumps(s) for s in _boundary(synthesized, stack))
    assert _rendered_size(_boundary(synthesized, stack)) < MANAGED_POLICY_LIMIT
    # Three data buckets with 30-character names still fit (each costs about 90 characters).
    buckets = ",".join(f"analytics-team-{n}-datasets-2024" for n in range(3))
    with_buckets = _of(_orchestrator(synthesized, stack, AllowedDataBuckets=buckets), "PipelinePermissionsBoundary")
    assert _rendered_size(with_buckets) < MANAGED_POLICY_LIMIT


def test_a_bounded_role_passes_roles_only_to_the_pipelines_services(synthesized):
    boundary = _boundary(synthesized)
    passing = [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]
    to = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    assert decide(_role_request("iam:PassRole", None, **to), passing, boundary=boundary) == ALLOW
    to_ec2 = {"iam:PassedToService": "ec2.amazonaws.com"}
    assert decide(_role_request("iam:PassRole", None, **to_ec2), passing, boundary=boundary) == IMPLICIT_DENY


def _granted_actions(template: dict[str, Any]) -> set[str]:
    actions = set()
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::Role"):
            for statement in _statements(resource):
                if statement["Effect"] == "Allow":
                    value = statement["Action"]
                    actions.update(value if isinstance(value, list) else [value])
    return actions


def test_the_boundary_allows_every_action_the_pipelines_roles_hold(synthesized):
    """At the action level: a role's own policy is never cut by the boundary (resources are the role's own)."""
    allowed = [
        pattern
        for statement in _boundary(synthesized)
        if statement["Effect"] == "Allow"
        for pattern in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    ]
    missing = {
        f"{stack_id(template)}: {action}"
        for template in BLUEPRINT_STACKS
        for action in _granted_actions(synthesized.templates[stack_id(template)])
        if not any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in allowed)
    }
    assert not missing, "actions the boundary would cut:\n" + "\n".join(sorted(missing))


@pytest.mark.parametrize("template", sorted(BLUEPRINT_STACKS))
def test_every_role_of_a_blueprint_carries_the_boundary_it_is_given(synthesized, template):
    name = stack_id(template)
    resolved = concrete(synthesized.templates[name], {"PermissionsBoundaryArn": BOUNDARY})["Resources"]
    roles = {k: r for k, r in resolved.items() if r["Type"] == "AWS::IAM::Role"}
    assert roles
    assert {k: r["Properties"].get("PermissionsBoundary") for k, r in roles.items()} == dict.fromkeys(roles, BOUNDARY)
    none = concrete(synthesized.templates[name], {"PermissionsBoundaryArn": ""})["Resources"]
    assert all("PermissionsBoundary" not in r["Properties"] for r in none.values() if r["Type"] == "AWS::IAM::Role")


@pytest.mark.parametrize("stack", BOTH)
def test_the_cloudformation_role_gives_permissions_only_with_the_boundary(synthesized, stack):
    cfn_role = _of(_orchestrator(synthesized, stack), "MLOpsCloudformationRole")
    _check_role_writes(cfn_role)


def test_the_deploy_role_gives_permissions_only_with_the_boundary(synthesized):
    resolved = concrete(synthesized.templates["single-account-codepipeline"], {"PermissionsBoundaryArn": BOUNDARY})
    _check_role_writes(_of(resolved["Resources"], "DeployRole"))


def _check_role_writes(statements: list[dict[str, Any]]) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/mlops-pipeline-churn-xgb-SageMakerRole-1A2B"
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"):
        assert decide(_role_request(action, BOUNDARY, role), statements) == ALLOW, action
        for boundary in (None, OTHER_BOUNDARY):
            assert decide(_role_request(action, boundary, role), statements) == IMPLICIT_DENY, action
    for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"):
        assert decide(Request(CFN_ROLE, action, BOUNDARY), statements) == EXPLICIT_DENY
    assert decide(Request(CFN_ROLE, "iam:DeleteRolePermissionsBoundary", role), statements) == EXPLICIT_DENY


def test_the_orchestrators_own_stacks_carry_its_boundary():
    """(A StackSet stage carries its own account's boundary: test_stage_accounts.)"""
    single = settings()
    for name in sorted(CATALOGUE):
        plan = plan_pipeline(validate(body(name), single), single)
        assert plan.stages[0].parameters["PermissionsBoundaryArn"] == single.permissions_boundary_arn, name
        assert plan.stack_parameters["PermissionsBoundaryArn"] == single.permissions_boundary_arn, name


# ---------------------------------------------------------------------------------------------------------
# Failed asynchronous events


@pytest.mark.parametrize("stack", BOTH)
def test_failed_orchestrator_events_go_to_an_encrypted_queue_that_alarms(synthesized, stack):
    template = synthesized.template(stack)
    raw = synthesized.templates[stack]
    queue = _id(raw, "AWS::SQS::Queue", "FailedOrchestratorEvents")
    function = _id(raw, "AWS::Lambda::Function", "PipelineOrchestrationFunction")
    template.has_resource_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})
    # S3 config uploads, CodeCommit pushes and stack events all invoke the function asynchronously.
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": function},
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}},
        },
    )
    rules = {k: r for k, r in raw["Resources"].items() if r["Type"] == "AWS::Events::Rule"}
    to_orchestrator = {
        k: t
        for k, r in rules.items()
        for t in r["Properties"]["Targets"]
        if t["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
    }
    assert {"PipelineStackEvents", "PipelineStackSetEvents", "CodeCommitTrigger"} <= {
        k.rstrip("0123456789ABCDEF") for k in to_orchestrator
    }
    assert all(t["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue, "Arn"]}} for t in to_orchestrator.values())
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
            "Threshold": 1,
            "AlarmActions": [{"Ref": _id(raw, "AWS::SNS::Topic", "MLOpsNotificationsTopic")}],
        },
    )
    # CloudWatch publishes the alarm to the KMS-encrypted topic.
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [Match.object_like({"Principal": {"Service": Match.array_with(["cloudwatch.amazonaws.com"])}})]
                )
            }
        },
    )


# ---------------------------------------------------------------------------------------------------------
# The deploy role changes only what its own blueprint stack owns

BLUEPRINT_STACK = "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin"
OWNER = "aws:ResourceTag/mlops:pipeline-name"


def _deploy_role(synthesized: Any) -> list[dict[str, Any]]:
    values = {"PermissionsBoundaryArn": BOUNDARY, "StackName": BLUEPRINT_STACK}
    resolved = concrete(synthesized.templates["single-account-codepipeline"], values)
    return _of(resolved["Resources"], "DeployRole")


def test_the_deploy_role_writes_only_its_own_inference_api(synthesized):
    statements = _deploy_role(synthesized)
    deployer = f"arn:aws:iam::{ACCOUNT}:role/mlops-pipeline-churn-DeployRole-1A2B"
    api = "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5"
    method = f"{api}/resources/f6g7h8/methods/POST"

    def request(action: str, resource: str, **context: str) -> Request:
        return Request(deployer, action, resource, context)

    create = "arn:aws:apigateway:us-east-1::/restapis"
    assert (
        decide(
            request("apigateway:POST", create, **{"aws:RequestTag/mlops:pipeline-name": BLUEPRINT_STACK}), statements
        )
        == ALLOW
    )
    assert decide(request("apigateway:POST", create), statements) == IMPLICIT_DENY
    for action in ("apigateway:PATCH", "apigateway:PUT", "apigateway:DELETE"):
        assert decide(request(action, method, **{OWNER: BLUEPRINT_STACK}), statements) == ALLOW
        # The orchestrator's own API (untagged) and another pipeline's API are out of reach.
        assert decide(request(action, method), statements) == IMPLICIT_DENY
        assert decide(request(action, api, **{OWNER: "mlops-pipeline-other"}), statements) == IMPLICIT_DENY
    tags = f"arn:aws:apigateway:us-east-1::/tags/{api.replace(':', '%3A')}"
    assert decide(request("apigateway:PUT", tags), statements) == IMPLICIT_DENY


def test_the_deploy_role_scales_only_its_own_endpoints(synthesized):
    statements = _deploy_role(synthesized)
    deployer = f"arn:aws:iam::{ACCOUNT}:role/mlops-pipeline-churn-DeployRole-1A2B"
    target = f"arn:aws:application-autoscaling:us-east-1:{ACCOUNT}:scalable-target/0ec4b7a1d2"
    register = "application-autoscaling:RegisterScalableTarget"
    owned = {"aws:RequestTag/mlops:pipeline-name": BLUEPRINT_STACK}
    assert decide(Request(deployer, register, target, owned), statements) == ALLOW
    assert decide(Request(deployer, register, target), statements) == IMPLICIT_DENY
    for action in ("application-autoscaling:PutScalingPolicy", "application-autoscaling:DeregisterScalableTarget"):
        assert decide(Request(deployer, action, target, {OWNER: BLUEPRINT_STACK}), statements) == ALLOW
        assert decide(Request(deployer, action, target, {OWNER: "someone-else"}), statements) == IMPLICIT_DENY
        assert decide(Request(deployer, action, target), statements) == IMPLICIT_DENY


def test_the_realtime_api_and_scalable_target_carry_their_stacks_owner_tag(synthesized):
    template = synthesized.template("byom-realtime-inference-pipeline")
    owner = {"Key": "mlops:pipeline-name", "Value": {"Ref": "AWS::StackName"}}
    template.has_resource_properties("AWS::ApiGateway::RestApi", {"Tags": Match.array_with([owner])})
    template.has_resource_properties("AWS::ApiGateway::Stage", {"Tags": Match.array_with([owner])})
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {"Tags": [owner]})


# ---------------------------------------------------------------------------------------------------------
# The image builder pushes only to the orchestrator's repository (or those the operator lists)

BUILD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlops-pipeline-sklearn-v4-ContainerFactoryRole-1A2B"


def _repository(name: str) -> str:
    return f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{name}"


def _build_role(synthesized: Any, ecr_repo_name: str, **settings_overrides: Any) -> list[dict[str, Any]]:
    """The build role's statements as the orchestrator deploys them, the request naming `ecr_repo_name`."""
    planned = settings()
    planned = type(planned)(**{**planned.__dict__, **settings_overrides})
    request = validate(body("byom_image_builder"), planned)
    values = {**plan_pipeline(request, planned).stack_parameters, "ECRRepoName": ecr_repo_name}
    resolved = concrete(synthesized.templates["byom-custom-algorithm-image-builder"], values)["Resources"]
    return _of(resolved, "ContainerFactoryRole") + _of(resolved, "DockerHubCachePull")


def test_the_build_role_cannot_push_to_another_repository_whatever_the_stack_is_told(synthesized):
    own = settings().ecr_repo_name
    for named in (own, "payments-service"):
        statements = _build_role(synthesized, named)
        assert decide(Request(BUILD_ROLE, "ecr:PutImage", _repository(own)), statements) == ALLOW
        for action in ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:CompleteLayerUpload"):
            assert decide(Request(BUILD_ROLE, action, _repository("payments-service")), statements) == IMPLICIT_DENY


def test_the_build_role_pushes_to_a_listed_repository_and_pulls_only_through_its_cache(synthesized):
    statements = _build_role(
        synthesized, "team/base", allowed_image_repositories=("team/base",), docker_hub_cache_prefix="mlops-docker-hub"
    )
    assert decide(Request(BUILD_ROLE, "ecr:PutImage", _repository("team/base")), statements) == ALLOW
    cached = _repository("mlops-docker-hub/library/python")
    for action in ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository", "ecr:BatchGetImage"):
        assert decide(Request(BUILD_ROLE, action, cached), statements) == ALLOW
    assert decide(Request(BUILD_ROLE, "ecr:CreateRepository", _repository("payments")), statements) == IMPLICIT_DENY
    no_cache = _build_role(synthesized, settings().ecr_repo_name)
    assert decide(Request(BUILD_ROLE, "ecr:BatchImportUpstreamImage", cached), no_cache) == IMPLICIT_DENY


@pytest.mark.parametrize("stack", BOTH)
def test_the_orchestrators_repository_is_immutable_scanned_and_expires_untagged_images(synthesized, stack):
    template = synthesized.template(stack)
    template.has_resource_properties(
        "AWS::ECR::Repository",
        {
            "ImageTagMutability": "IMMUTABLE",
            "ImageScanningConfiguration": {"ScanOnPush": True},
            "LifecyclePolicy": {"LifecyclePolicyText": Match.string_like_regexp('"tagStatus":"untagged"')},
        },
    )


@pytest.mark.parametrize("stack", BOTH)
def test_the_docker_hub_cache_exists_only_with_a_credential_secret(synthesized, stack):
    secret = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:ecr-pullthroughcache/docker-hub-AbCdEf"
    with_secret = _orchestrator(synthesized, stack, DockerHubCredentialArn=secret)
    (rule,) = [r for r in with_secret.values() if r["Type"] == "AWS::ECR::PullThroughCacheRule"]
    assert rule["Properties"] == {
        "EcrRepositoryPrefix": "mlops-docker-hub",
        "UpstreamRegistry": "docker-hub",
        "UpstreamRegistryUrl": "registry-1.docker.io",
        "CredentialArn": secret,
    }
    function = next(
        r
        for k, r in with_secret.items()
        if k.startswith("PipelineOrchestrationFunction") and "Handler" in r["Properties"]
    )
    assert function["Properties"]["Environment"]["Variables"]["DOCKER_HUB_CACHE_PREFIX"] == "mlops-docker-hub"
    without = _orchestrator(synthesized, stack, DockerHubCredentialArn="")
    assert not [r for r in without.values() if r["Type"] == "AWS::ECR::PullThroughCacheRule"]
    parameter = synthesized.templates[stack]["Parameters"]["DockerHubCredentialArn"]
    assert re.fullmatch(parameter["AllowedPattern"], secret)
    assert not re.fullmatch(parameter["AllowedPattern"], secret.replace("ecr-pullthroughcache/", "docker/"))
