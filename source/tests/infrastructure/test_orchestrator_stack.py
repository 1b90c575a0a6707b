# SPDX-License-Identifier: Apache-2.0
"""The orchestrator templates: parameters, conditions, resources, permissions and outputs a deployer relies on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from lambdas.pipeline_orchestration.index import ROUTES as API_ROUTES
from lambdas.pipeline_orchestration.settings import PERIMETER_SETTINGS, Settings

pytestmark = pytest.mark.synth

SINGLE = "mlops-orchestrator-single-account"
MULTI = "mlops-orchestrator-multi-account"
BOTH = [SINGLE, MULTI]
COMMON_PARAMETERS = [
    "NotificationEmail",
    "CodeCommitRepoAddress",
    "ConfigS3Bucket",
    "ExistingS3Bucket",
    "ExistingECRRepo",
    "UseModelRegistry",
    "CreateModelRegistry",
    "AllowDetailedErrorMessage",
    "PermissionsBoundaryArn",
    "StrictValidation",
    "SubnetIds",
    "SecurityGroupIds",
    "VpcId",
    "CodeConnectionArn",
    "CodeConnectionRepository",
    "CodeConnectionBranch",
    # Images
    "AllowedImageRepositories",
    "DockerHubCredentialArn",
    # The data perimeter's allow-list of buckets (new; empty keeps the predecessor's behaviour).
    "AllowedDataBuckets",
    # Who may do what.
    "AllowSelfApproval",
    "AdminPrincipalArns",
    "TeamTagKey",
    # Endpoints monitors may watch besides the orchestrator's own (new; empty: its pipelines' endpoints only).
    "AllowedMonitoredEndpoints",
    # The engine of monitors whose request names none.
    "MonitoringEngine",
]
MULTI_PARAMETERS = [
    "DelegatedAdminAccount",
    "DevAccountId",
    "DevOrgId",
    "StagingAccountId",
    "StagingOrgId",
    "ProdAccountId",
    "ProdOrgId",
    "DevSubnetIds",
    "DevSecurityGroupIds",
    "StagingSubnetIds",
    "StagingSecurityGroupIds",
    "ProdSubnetIds",
    "ProdSecurityGroupIds",
]
CONDITIONAL = {
    "GitAddressProvided": ("CodeCommitRepoAddress", False),
    "ConfigBucketProvided": ("ConfigS3Bucket", False),
    "ConnectionProvided": ("CodeConnectionArn", False),
    "CreateS3Bucket": ("ExistingS3Bucket", True),
    "ExistingS3BucketProvided": ("ExistingS3Bucket", False),
    "CreateECRRepo": ("ExistingECRRepo", True),
    "DockerHubCacheCreated": ("DockerHubCredentialArn", False),
}


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}


def _one(template: dict[str, Any], resource_type: str, **where: Any) -> tuple[str, dict[str, Any]]:
    found = [
        (k, r)
        for k, r in _resources(template, resource_type).items()
        if all(r.get("Properties", {}).get(key) == value for key, value in where.items())
    ]
    assert len(found) == 1, f"expected one {resource_type} with {where}, found {[k for k, _ in found]}"
    return found[0]


def _orchestrator(template: dict[str, Any]) -> dict[str, Any]:
    return _one(template, "AWS::Lambda::Function", Handler="lambdas.pipeline_orchestration.index.handler")[1]


def _statements(template: dict[str, Any], logical_prefix: str) -> list[dict[str, Any]]:
    statements = []
    for logical_id, resource in template["Resources"].items():
        if logical_id.startswith(logical_prefix) and resource["Type"] == "AWS::IAM::Policy":
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        value = statement["Action"]
        actions.update([value] if isinstance(value, str) else value)
    return actions


# ---------------------------------------------------------------------------------------------------------
# Parameters and the console interface


@pytest.mark.parametrize("stack", BOTH)
def test_parameters_are_the_predecessors(synthesized, stack):
    expected = COMMON_PARAMETERS + (MULTI_PARAMETERS if stack == MULTI else [])
    assert sorted(synthesized.templates[stack]["Parameters"]) == sorted(expected)


@pytest.mark.parametrize("stack", BOTH)
def test_notification_email_is_required_and_checked(synthesized, stack):
    synthesized.template(stack).has_parameter(
        "NotificationEmail",
        {
            "Type": "String",
            "AllowedPattern": r"^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$",
            "MinLength": 5,
            "MaxLength": 320,
            "Default": Match.absent(),
        },
    )


@pytest.mark.parametrize("stack", BOTH)
@pytest.mark.parametrize(
    ("name", "max_length"),
    [("CodeCommitRepoAddress", 320), ("ConfigS3Bucket", 63), ("ExistingS3Bucket", 63), ("ExistingECRRepo", 63)],
)
def test_optional_names_default_to_empty(synthesized, stack, name, max_length):
    parameter = synthesized.templates[stack]["Parameters"][name]
    assert parameter["Default"] == ""
    assert parameter["MaxLength"] == max_length
    assert parameter["AllowedPattern"].endswith("|^$)")  # empty is allowed


@pytest.mark.parametrize("stack", BOTH)
@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("UseModelRegistry", "No"),
        ("CreateModelRegistry", "No"),
        ("AllowDetailedErrorMessage", "Yes"),
        ("StrictValidation", "No"),
    ],
)
def test_yes_no_switches(synthesized, stack, name, default):
    synthesized.template(stack).has_parameter(name, {"AllowedValues": ["Yes", "No"], "Default": default})


def test_multi_account_targets_are_required_and_checked(synthesized):
    template = synthesized.template(MULTI)
    template.has_parameter("DelegatedAdminAccount", {"AllowedValues": ["Yes", "No"], "Default": "Yes"})
    for stage in ("Dev", "Staging", "Prod"):
        template.has_parameter(f"{stage}AccountId", {"AllowedPattern": r"^\d{12}$", "Default": Match.absent()})
        template.has_parameter(
            f"{stage}OrgId", {"AllowedPattern": r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$", "Default": Match.absent()}
        )


@pytest.mark.parametrize("stack", BOTH)
def test_console_groups_and_labels_every_parameter(synthesized, stack):
    template = synthesized.templates[stack]
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    groups = interface["ParameterGroups"]
    assert [g["Label"]["default"] for g in groups] == [
        "MLOps Framework Settings",
        "VPC of the pipelines' containers (Optional)",
        "Data perimeter (Optional)",
    ]
    assert groups[2]["Parameters"] == ["AllowedDataBuckets", "AllowedMonitoredEndpoints"]
    # The image repositories sit with the image builder's settings (ImageParameters), beside the Docker Hub cache.
    assert "AllowedImageRepositories" in groups[0]["Parameters"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"]) and len(grouped) == len(set(grouped))
    assert all("SubnetIds" in n or "SecurityGroupIds" in n or n == "VpcId" for n in groups[1]["Parameters"])
    assert set(interface["ParameterLabels"]) == set(template["Parameters"])
    assert interface["ParameterLabels"]["NotificationEmail"] == {"default": "Notification Email (Required)"}
    assert interface["ParameterLabels"]["ConfigS3Bucket"] == {
        "default": "MLOps configuration S3 bucket name (Optional)"
    }


def test_patterns_accept_and_reject_what_the_predecessor_did(synthesized):
    import re

    parameters = synthesized.templates[MULTI]["Parameters"]

    def ok(name: str, value: str) -> bool:
        parameter = parameters[name]
        length_ok = parameter.get("MinLength", 0) <= len(value) <= parameter.get("MaxLength", 10**6)
        return length_ok and re.fullmatch(parameter["AllowedPattern"], value) is not None

    assert ok("CodeCommitRepoAddress", "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/mlops-config")
    assert ok("CodeCommitRepoAddress", "")
    assert not ok("CodeCommitRepoAddress", "https://github.com/owner/repo")
    assert ok("ExistingS3Bucket", "my-assets.bucket")
    assert not ok("ExistingS3Bucket", "My_Bucket")
    assert ok("ExistingECRRepo", "team/custom-algorithms")
    assert not ok("ExistingECRRepo", "Upper")
    assert ok("NotificationEmail", "ml-team@example.com")
    assert not ok("NotificationEmail", "not-an-email")
    assert ok("DevOrgId", "ou-ab12-cd34ef56")
    assert not ok("DevAccountId", "12345")


# ---------------------------------------------------------------------------------------------------------
# Conditions and what they guard


@pytest.mark.parametrize("stack", BOTH)
def test_conditions(synthesized, stack):
    conditions = synthesized.templates[stack]["Conditions"]
    for name, (parameter, when_empty) in CONDITIONAL.items():
        equals = {"Fn::Equals": [{"Ref": parameter}, ""]}
        assert conditions[name] == (equals if when_empty else {"Fn::Not": [equals]})
    assert conditions["CreateModelRegistryCondition"] == {"Fn::Equals": [{"Ref": "CreateModelRegistry"}, "Yes"]}
    assert conditions["CreatePermissionsBoundary"] == {"Fn::Equals": [{"Ref": "PermissionsBoundaryArn"}, ""]}
    # The boundary allows every bucket of the account when AllowedDataBuckets names none.
    assert conditions["AnyDataBucket"] == {"Fn::Equals": [{"Ref": "AllowedDataBuckets"}, ""]}
    # Multi-account: the stage accounts' boundary StackSet calls as a delegated administrator, or as the management
    # account (CallAs).
    delegated = {"StageBoundaryByDelegatedAdmin"} if stack == MULTI else set()
    if delegated:
        assert conditions["StageBoundaryByDelegatedAdmin"] == {"Fn::Equals": [{"Ref": "DelegatedAdminAccount"}, "Yes"]}
    assert set(conditions) == {
        *CONDITIONAL,
        "CreateModelRegistryCondition",
        "CreatePermissionsBoundary",
        "AnyDataBucket",
        *delegated,
    }


def _conditional(template: dict[str, Any], condition: str) -> dict[str, str]:
    return {k: r["Type"] for k, r in template["Resources"].items() if r.get("Condition") == condition}


@pytest.mark.parametrize("stack", BOTH)
def test_git_trigger_exists_only_with_a_repository(synthesized, stack):
    guarded = sorted(_conditional(synthesized.templates[stack], "GitAddressProvided").values())
    assert guarded == ["AWS::Events::Rule", "AWS::IAM::Policy", "AWS::Lambda::Permission"]


@pytest.mark.parametrize("stack", BOTH)
def test_config_bucket_trigger_exists_only_with_a_bucket(synthesized, stack):
    guarded = sorted(_conditional(synthesized.templates[stack], "ConfigBucketProvided").values())
    assert guarded == [
        "AWS::IAM::Policy",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::Lambda::Function",
        "AWS::Lambda::Permission",
        "Custom::S3BucketNotifications",
    ]


@pytest.mark.parametrize("stack", BOTH)
def test_assets_bucket_ecr_and_registry_are_created_only_when_asked(synthesized, stack):
    template = synthesized.templates[stack]
    assert sorted(_conditional(template, "CreateS3Bucket").values()) == ["AWS::S3::Bucket", "AWS::S3::BucketPolicy"]
    assert list(_conditional(template, "CreateECRRepo").values()) == ["AWS::ECR::Repository"]
    assert list(_conditional(template, "CreateModelRegistryCondition").values()) == [
        "AWS::SageMaker::ModelPackageGroup"
    ]


@pytest.mark.parametrize("stack", BOTH)
def test_unconditional_resources_never_reference_conditional_ones(synthesized, stack):
    """With every optional parameter empty, nothing that is created may point at something that is not."""
    template = synthesized.templates[stack]
    conditional = {k for k, r in template["Resources"].items() if "Condition" in r}

    def references(node: Any) -> set[str]:
        if isinstance(node, dict):
            if "Fn::If" in node:  # a branch guarded by a condition is fine
                return set()
            found = set()
            if isinstance(node.get("Ref"), str):
                found.add(node["Ref"])
            if "Fn::GetAtt" in node:
                found.add(node["Fn::GetAtt"][0])
            for value in node.values():
                found |= references(value)
            return found
        if isinstance(node, list):
            return set().union(*(references(item) for item in node)) if node else set()
        return set()

    for logical_id, resource in template["Resources"].items():
        if "Condition" in resource:
            continue
        leaked = (references(resource) | set(resource.get("DependsOn", []))) & conditional
        assert not leaked, f"{logical_id} references conditional {leaked}"


@pytest.mark.parametrize("stack", BOTH)
def test_the_index_is_reconciled_every_15_minutes_with_retries_and_a_dead_letter_queue(synthesized, stack):
    template = synthesized.templates[stack]
    rules = [r["Properties"] for r in _resources(template, "AWS::Events::Rule").values()]
    scheduled = [r for r in rules if "ScheduleExpression" in r]
    assert [r["ScheduleExpression"] for r in scheduled] == ["rate(15 minutes)"]
    target = scheduled[0]["Targets"][0]
    assert target["Arn"] == {"Fn::GetAtt": [next(iter(_orchestrator_ids(template))), "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2 and "DeadLetterConfig" in target


@pytest.mark.parametrize("stack", BOTH)
def test_codecommit_rule_watches_pushes_to_main_of_the_named_repository(synthesized, stack):
    template = synthesized.templates[stack]
    rules = _resources(template, "AWS::Events::Rule").values()
    rule = next(r for r in rules if r["Properties"].get("EventPattern", {}).get("source") == ["aws.codecommit"])
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["CodeCommit Repository State Change"]
    assert pattern["detail"] == {
        "event": ["referenceCreated", "referenceUpdated"],
        "referenceType": ["branch"],
        "referenceName": ["main"],
    }
    repository_arn = json.dumps(pattern["resources"])
    assert '{"Fn::Select": [5, {"Fn::Split": ["/", {"Ref": "CodeCommitRepoAddress"}]}]}' in repository_arn
    target = rule["Properties"]["Targets"][0]["Arn"]
    assert target == {"Fn::GetAtt": [next(iter(_orchestrator_ids(template))), "Arn"]}


def _orchestrator_ids(template: dict[str, Any]) -> list[str]:
    return [
        k
        for k, r in _resources(template, "AWS::Lambda::Function").items()
        if r["Properties"].get("Handler") == "lambdas.pipeline_orchestration.index.handler"
    ]


@pytest.mark.parametrize("stack", BOTH)
def test_config_bucket_notifies_only_on_mlops_config_json(synthesized, stack):
    template = synthesized.templates[stack]
    _, notification = _one(template, "Custom::S3BucketNotifications")
    configurations = notification["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert len(configurations) == 1
    assert configurations[0]["Events"] == ["s3:ObjectCreated:*"]
    assert sorted(configurations[0]["Filter"]["Key"]["FilterRules"], key=lambda r: r["Name"]) == [
        {"Name": "prefix", "Value": "mlops-config.json"},
        {"Name": "suffix", "Value": "mlops-config.json"},
    ]
    assert notification["Properties"]["BucketName"] == {"Ref": "ConfigS3Bucket"}


# ---------------------------------------------------------------------------------------------------------
# The orchestrator Lambda


@pytest.mark.parametrize("stack", BOTH)
def test_orchestrator_function_runtime(synthesized, stack):
    function = _orchestrator(synthesized.templates[stack])["Properties"]
    assert function["Runtime"] in ("python3.13", "python3.14")
    assert function["Architectures"] == ["arm64"]
    assert function["MemorySize"] == 512


@pytest.mark.parametrize("stack", BOTH)
def test_orchestrator_environment_is_what_settings_read(synthesized, stack):
    variables = _orchestrator(synthesized.templates[stack])["Properties"]["Environment"]["Variables"]
    expected = {
        "REGION",
        "ACCOUNT_ID",
        "ASSETS_BUCKET",
        "BLUEPRINT_BUCKET",
        "CFN_ROLE_ARN",
        "PERMISSIONS_BOUNDARY_ARN",
        "ECR_REPO_NAME",
        "ECR_REPO_ARN",
        "MLOPS_NOTIFICATIONS_SNS_TOPIC",
        "PIPELINE_INDEX_TABLE",
        "IS_MULTI_ACCOUNT",
        "USE_MODEL_REGISTRY",
        "ALLOW_DETAILED_ERROR_MESSAGE",
        "STRICT_VALIDATION",
        "SUBNET_IDS",
        "SECURITY_GROUP_IDS",
        "VPC_ID",
        "MONITORING_ENGINE",
        "LOG_LEVEL",
        "SOLUTION_VERSION",
        "ALLOWED_IMAGE_REPOSITORIES",
        "DOCKER_HUB_CACHE_PREFIX",
        *(variable for _, variable, _ in PERIMETER_SETTINGS),
        "ARTIFACT_BUCKET",
        "ALLOW_SELF_APPROVAL",
        "ADMIN_PRINCIPAL_ARNS",
        "TEAM_TAG_KEY",
    }
    if stack == MULTI:
        expected |= {"IS_DELEGATED_ADMIN"} | {
            f"{stage}_{kind}"
            for stage in ("DEV", "STAGING", "PROD")
            for kind in ("ACCOUNT_ID", "ORG_ID", "SUBNET_IDS", "SECURITY_GROUP_IDS")
        }
    assert set(variables) == expected
    assert variables["IS_MULTI_ACCOUNT"] == str(stack == MULTI)
    assert variables["USE_MODEL_REGISTRY"] == {"Ref": "UseModelRegistry"}
    assert variables["ALLOW_DETAILED_ERROR_MESSAGE"] == {"Ref": "AllowDetailedErrorMessage"}
    assert variables["STRICT_VALIDATION"] == {"Ref": "StrictValidation"}
    assert variables["ALLOW_SELF_APPROVAL"] == {"Ref": "AllowSelfApproval"}
    assert variables["ADMIN_PRINCIPAL_ARNS"] == {"Ref": "AdminPrincipalArns"}
    assert variables["TEAM_TAG_KEY"] == {"Ref": "TeamTagKey"}
    assert variables["ASSETS_BUCKET"]["Fn::If"][0] == "CreateS3Bucket"
    assert variables["ASSETS_BUCKET"]["Fn::If"][2] == {"Ref": "ExistingS3Bucket"}


def test_settings_read_the_multi_account_environment(synthesized):
    """Settings.from_env understands the values the template sets (parameter refs replaced by samples)."""
    variables = _orchestrator(synthesized.templates[MULTI])["Properties"]["Environment"]["Variables"]
    samples = {
        "DevAccountId": "111111111111",
        "DevOrgId": "ou-ab12-dev00000",
        "DelegatedAdminAccount": "No",
        "MonitoringEngine": "Open",
    }
    env = {
        name: value if isinstance(value, str) else samples.get(value.get("Ref", ""), "x")
        for name, value in variables.items()
    }
    settings = Settings.from_env(env)
    assert settings.multi_account is True
    assert settings.delegated_admin is False
    assert settings.stage_targets["dev"].account_id == "111111111111"
    assert settings.stage_targets["dev"].org_unit_id == "ou-ab12-dev00000"


@pytest.mark.parametrize("stack", BOTH)
def test_orchestrator_may_pass_only_the_cloudformation_role(synthesized, stack):
    template = synthesized.templates[stack]
    passes = [s for s in _statements(template, "OrchestratorPolicy") if s["Action"] == "iam:PassRole"]
    role_id, _ = _one(
        template, "AWS::IAM::Role", Description="Creates the mlops-pipeline* stacks of the MLOps orchestrator"
    )
    assert passes == [
        {
            "Action": "iam:PassRole",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [role_id, "Arn"]},
            "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
        }
    ]


@pytest.mark.parametrize("stack", BOTH)
def test_orchestrator_may_do_what_its_code_does(synthesized, stack):
    actions = _actions(_statements(synthesized.templates[stack], "OrchestratorPolicy"))
    required = {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:DeleteStack",
        "cloudformation:DescribeStacks",
        "cloudformation:ListStackResources",
        "codepipeline:GetPipelineState",
        "codepipeline:ListPipelineExecutions",
        "sns:Publish",
        "sagemaker:DescribeEndpoint",
        "sagemaker:CreateModelCard",
        "sagemaker:DescribeModelCard",
        "sagemaker:UpdateModelCard",
        "sagemaker:DeleteModelCard",
        "sagemaker:ListModelCards",
        "sagemaker:CreateModelCardExportJob",
    }
    assert required <= actions
    stack_sets = {"cloudformation:DescribeStackInstance", "cloudformation:DescribeStackSet"}
    assert stack_sets <= actions if stack == MULTI else not (stack_sets & actions)


@pytest.mark.parametrize("stack", BOTH)
def test_stack_calls_are_limited_to_pipeline_stacks(synthesized, stack):
    """Only the unnamed DescribeStacks of the list route reads beyond mlops-pipeline stacks (IAM needs *)."""
    for statement in _statements(synthesized.templates[stack], "OrchestratorPolicy"):
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        actions = [a for a in actions if a != "cloudformation:DescribeStacks" or statement["Resource"] != "*"]
        if any(a.startswith(("cloudformation:", "codepipeline:")) for a in actions):
            resource = json.dumps(statement["Resource"])
            assert ":stack/mlops-pipeline*/*" in resource or "mlops-pipeline*" in resource, statement


@pytest.mark.parametrize("stack", BOTH)
def test_trigger_permissions(synthesized, stack):
    template = synthesized.templates[stack]
    codecommit = _actions(_statements(template, "CodeCommitTriggerPolicy"))
    assert codecommit == {"codecommit:GetFile", "codecommit:GetDifferences", "codecommit:PostCommentForComparedCommit"}
    config = _statements(template, "ConfigBucketTriggerPolicy")
    resources = json.dumps([s["Resource"] for s in config])
    assert _actions(config) == {"s3:GetObject", "s3:PutObject"}
    assert "/mlops-config.json" in resources and "/mlops-config.result.json" in resources


# ---------------------------------------------------------------------------------------------------------
# The config source on GitHub, GitLab or Bitbucket (a CodeConnections connection)

CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/0c9b6f1e-2d4a-4c3b-9e8f-1a2b3c4d5e6f"


def _with_connection(template: dict[str, Any], arn: str = CONNECTION) -> dict[str, Any]:
    from tests.infrastructure.resolve import resolve

    values = {"CodeConnectionArn": arn, "CodeConnectionRepository": "team/ml-configs", "CodeConnectionBranch": "prod"}
    return resolve(template, values)["Resources"]


@pytest.mark.parametrize("stack", BOTH)
def test_connection_parameters_and_their_patterns(synthesized, stack):
    import re

    parameters = synthesized.templates[stack]["Parameters"]

    def ok(name: str, value: str) -> bool:
        return re.fullmatch(parameters[name]["AllowedPattern"], value) is not None

    assert parameters["CodeConnectionArn"]["Default"] == "" and parameters["CodeConnectionRepository"]["Default"] == ""
    assert parameters["CodeConnectionBranch"]["Default"] == "main"
    assert ok("CodeConnectionArn", CONNECTION) and ok("CodeConnectionArn", "")
    assert ok("CodeConnectionArn", CONNECTION.replace(":codeconnections:", ":codestar-connections:"))
    assert not ok("CodeConnectionArn", "arn:aws:codecommit:us-east-1:123456789012:ml-configs")
    assert ok("CodeConnectionRepository", "team/ml-configs") and ok("CodeConnectionRepository", "group/sub/repo")
    assert not ok("CodeConnectionRepository", "ml-configs") and not ok("CodeConnectionRepository", "a b/c")
    assert ok("CodeConnectionBranch", "release/2026.12") and not ok("CodeConnectionBranch", "")
    # CloudFormation refuses a connection without a repository before creating anything.
    (assertion,) = synthesized.templates[stack]["Rules"]["CodeConnectionNeedsRepository"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CodeConnectionRepository"}, ""]}]}


@pytest.mark.parametrize("stack", BOTH)
def test_connection_source_exists_only_with_a_connection_arn(synthesized, stack):
    template = synthesized.templates[stack]
    guarded = sorted(_conditional(template, "ConnectionProvided").values())
    assert guarded == [
        "AWS::CodePipeline::Pipeline",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
    ]
    without = _with_connection(template, arn="")
    assert not [r for r in without.values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    assert not [k for k in without if k.startswith("Connection")]
    guarded_ids = {k for k, r in template["Resources"].items() if r.get("Condition") == "ConnectionProvided"}
    assert guarded_ids <= set(_with_connection(template))


@pytest.mark.parametrize("stack", BOTH)
def test_connection_pipeline_reads_the_branch_and_hands_the_file_to_the_orchestrator(synthesized, stack):
    resources = _with_connection(synthesized.templates[stack])
    (pipeline,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    assert pipeline["PipelineType"] == "V2"
    source_stage, provision_stage = pipeline["Stages"]
    (source,) = source_stage["Actions"]
    assert source["ActionTypeId"] == {
        "Category": "Source", "Owner": "AWS", "Provider": "CodeStarSourceConnection", "Version": "1"
    }  # fmt: skip
    assert source["Configuration"] == {
        "ConnectionArn": CONNECTION,
        "FullRepositoryId": "team/ml-configs",
        "BranchName": "prod",
        "OutputArtifactFormat": "CODE_ZIP",
        "DetectChanges": "true",
    }
    (trigger,) = pipeline["Triggers"]
    assert trigger == {
        "ProviderType": "CodeStarSourceConnection",
        "GitConfiguration": {
            "SourceActionName": "Source",
            "Push": [{"Branches": {"Includes": ["prod"]}, "FilePaths": {"Includes": ["mlops-config.json"]}}],
        },
    }
    (hand_off,) = provision_stage["Actions"]
    assert hand_off["ActionTypeId"]["Provider"] == "Lambda" and hand_off["InputArtifacts"] == source["OutputArtifacts"]
    orchestrator_id = next(
        k for k, r in resources.items() if r.get("Properties", {}).get("Handler", "").endswith("index.handler")
    )
    assert hand_off["Configuration"]["FunctionName"] == {"Ref": orchestrator_id}
    assert json.loads(hand_off["Configuration"]["UserParameters"]) == {
        "repository": "team/ml-configs",
        "branch": "prod",
    }
    assert pipeline["ArtifactStore"] == {"Type": "S3", "Location": {"Ref": "ConnectionArtifacts33909CC4"}}


@pytest.mark.parametrize("stack", BOTH)
def test_connection_grants_are_scoped_to_the_connection_its_bucket_and_the_orchestrator(synthesized, stack):
    template = synthesized.templates[stack]
    (role,) = [r for k, r in template["Resources"].items() if k.startswith("ConnectionPipelineRole")]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "codepipeline.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (policy,) = role["Properties"]["Policies"]
    by_action = {
        action: statement["Resource"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert by_action["codeconnections:UseConnection"] == {"Ref": "CodeConnectionArn"}
    assert by_action["codestar-connections:UseConnection"] == {"Ref": "CodeConnectionArn"}
    artifacts = {"Fn::Join": ["", [{"Fn::GetAtt": ["ConnectionArtifacts33909CC4", "Arn"]}, "/*"]]}
    for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"):
        assert by_action[action] == artifacts
    assert by_action["lambda:InvokeFunction"]["Fn::GetAtt"][1] == "Arn"
    assert set(by_action) == {
        "codeconnections:UseConnection", "codestar-connections:UseConnection", "s3:GetObject",
        "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketVersioning", "s3:GetBucketLocation",
        "lambda:InvokeFunction",
    }  # fmt: skip
    job = _statements(template, "ConnectionTriggerPolicy")
    assert _actions(job) == {"s3:GetObject", "s3:PutObject", "codepipeline:PutJobSuccessResult",
                             "codepipeline:PutJobFailureResult"}  # fmt: skip
    resources = json.dumps([s["Resource"] for s in job])
    assert '"/mlops-config.result.json"' in resources and resources.count("ConnectionArtifacts33909CC4") == 2


# ---------------------------------------------------------------------------------------------------------
# The CloudFormation service role


@pytest.mark.parametrize("stack", BOTH)
def test_cloudformation_role_is_scoped_to_pipeline_names(synthesized, stack):
    template = synthesized.templates[stack]
    _, role = _one(
        template, "AWS::IAM::Role", Description="Creates the mlops-pipeline* stacks of the MLOps orchestrator"
    )
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "cloudformation.amazonaws.com"
    }
    assert "ManagedPolicyArns" not in role["Properties"]
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    for statement in (s for s in statements if s["Effect"] == "Allow"):
        rendered = json.dumps(statement["Resource"])
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        if actions == ["s3:GetObject"] and "BlueprintRepository" in rendered and "blueprint-lambdas-" in rendered:
            continue  # the StackSet deployer's code, in the orchestrator's own blueprints bucket
        if any(a.startswith(("iam:", "codepipeline:", "codebuild:", "lambda:", "events:", "s3:")) for a in actions):
            assert "mlops-pipeline*" in rendered, statement
    attach = [s for s in statements if "iam:AttachRolePolicy" in s["Action"]]
    assert attach[0]["Condition"]["ArnLike"]["iam:PolicyARN"] is not None
    needed = {
        "iam:CreateRole",
        "iam:PassRole",
        "codepipeline:CreatePipeline",
        "codebuild:CreateProject",
        "lambda:CreateFunction",
        "events:PutRule",
        "events:PutTargets",
        "sns:Subscribe",
    }
    assert needed <= _actions(statements)


# ---------------------------------------------------------------------------------------------------------
# The API


@pytest.mark.parametrize("stack", BOTH)
def test_api_routes_are_iam_authorized_lambda_proxies_with_validation(synthesized, stack):
    template = synthesized.templates[stack]
    paths = {k: r["Properties"]["PathPart"] for k, r in _resources(template, "AWS::ApiGateway::Resource").items()}
    routes = set()
    function_id = _orchestrator_ids(template)[0]
    for method in _resources(template, "AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        assert properties["AuthorizationType"] == "AWS_IAM"
        assert "RequestValidatorId" in properties
        integration = properties["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert function_id in json.dumps(integration["Uri"])
        routes.add((properties["HttpMethod"], _path(template, properties["ResourceId"]["Ref"], paths)))
    assert routes == {
        ("POST", "/provisionpipeline"),
        ("POST", "/pipelinestatus"),
        ("GET", "/pipelines"),
        ("GET", "/pipelines/{pipeline_name}"),
        ("DELETE", "/pipelines/{pipeline_name}"),
        ("POST", "/pipelines/{pipeline_name}/rollback"),
        ("POST", "/pipelines/{pipeline_name}/approval"),
        ("GET", "/pipelines/{pipeline_name}/history"),
        ("POST", "/pipelines/{pipeline_name}/retry"),
        ("POST", "/pipelines/{pipeline_name}/stop"),
    }
    # API Gateway serves every route the handler serves: none answers "Missing Authentication Token".
    assert routes == set(API_ROUTES)


def _path(template: dict[str, Any], resource_id: str, paths: dict[str, str]) -> str:
    parts = []
    while resource_id in paths:
        parts.append(paths[resource_id])
        parent = template["Resources"][resource_id]["Properties"]["ParentId"]
        resource_id = parent.get("Ref", "") if isinstance(parent, dict) else ""
    return "/" + "/".join(reversed(parts))


@pytest.mark.parametrize("stack", BOTH)
def test_post_bodies_must_be_json_objects(synthesized, stack):
    template = synthesized.template(stack)
    template.has_resource_properties(
        "AWS::ApiGateway::Model",
        {"ContentType": "application/json", "Schema": Match.object_like({"type": "object"})},
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {"HttpMethod": "POST", "RequestModels": {"application/json": Match.any_value()}},
    )


@pytest.mark.parametrize("stack", BOTH)
def test_api_stage_is_prod_logged_and_throttled(synthesized, stack):
    template = synthesized.template(stack)
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "prod",
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp("requestId")},
            "MethodSettings": [
                Match.object_like(
                    {
                        "LoggingLevel": "INFO",
                        "DataTraceEnabled": False,
                        "ThrottlingRateLimit": 50,
                        "ThrottlingBurstLimit": 100,
                    }
                )
            ],
        },
    )
    assert "PipelineOrchestrationLambdaRestApiEndpoint9B628338" in synthesized.templates[stack]["Outputs"]


# ---------------------------------------------------------------------------------------------------------
# Storage, registry, notifications


@pytest.mark.parametrize("stack", BOTH)
def test_buckets_are_private_encrypted_versioned_and_tls_only(synthesized, stack):
    template = synthesized.templates[stack]
    buckets = _resources(template, "AWS::S3::Bucket")
    # access logs, assets, blueprints, pipeline artifacts; the connection's artifact bucket only when its ARN is set
    assert len(buckets) == 5
    for logical_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ] == {"SSEAlgorithm": "AES256"}
        policies = [
            p
            for p in _resources(template, "AWS::S3::BucketPolicy").values()
            if p["Properties"]["Bucket"] == {"Ref": logical_id}
        ]
        denies = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies), logical_id
    logged = [b for b in buckets.values() if "LoggingConfiguration" in b["Properties"]]
    assert len(logged) == 4  # assets, blueprints, pipeline artifacts and the connection's artifacts log there


@pytest.mark.parametrize("stack", BOTH)
def test_stage_accounts_read_buckets_and_pull_images_only_in_multi_account(synthesized, stack):
    template = synthesized.templates[stack]
    policies = json.dumps(_resources(template, "AWS::S3::BucketPolicy"))
    repository = _one(template, "AWS::ECR::Repository")[1]["Properties"]
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}
    if stack == MULTI:
        # Assets and blueprints buckets each name the account (principal) and its pipelines' roles (condition),
        # and the assets bucket denies it the pipelines' sources (test_stage_accounts judges what they allow).
        reads = [
            s
            for p in _resources(template, "AWS::S3::BucketPolicy").values()
            for s in p["Properties"]["PolicyDocument"]["Statement"]
            if "DevAccountId" in json.dumps(s)
        ]
        assert sorted(s["Sid"] for s in reads) == [
            "StageAccountsNeverReadPipelineSources",
            "StageAccountsRead",
            "StageAccountsRead",
        ]
        pull = repository["RepositoryPolicyText"]["Statement"][0]
        assert "ecr:BatchGetImage" in pull["Action"]
        assert "DevAccountId" in json.dumps(pull["Principal"])
        assert "role/mlops-pipeline*" in json.dumps(pull["Condition"]["ArnLike"]["aws:PrincipalArn"])
    else:
        assert "AccountId" not in policies.replace("AWS::AccountId", "")
        assert "RepositoryPolicyText" not in repository


@pytest.mark.parametrize("stack", BOTH)
def test_model_registry_is_retained_and_shared_only_in_multi_account(synthesized, stack):
    template = synthesized.templates[stack]
    logical_id, group = _one(template, "AWS::SageMaker::ModelPackageGroup")
    assert group["DeletionPolicy"] == "Retain"
    policy = group["Properties"].get("ModelPackageGroupPolicy")
    if stack == MULTI:
        statement = policy["Statement"][0]
        assert set(statement["Action"]) >= {"sagemaker:DescribeModelPackage", "sagemaker:CreateModel"}
        assert "ProdAccountId" in json.dumps(statement["Principal"])
    else:
        assert policy is None
    output = template["Outputs"]["ModelRegistryArn"]["Value"]["Fn::If"]
    assert output == [
        "CreateModelRegistryCondition",
        {"Fn::GetAtt": [logical_id, "ModelPackageGroupArn"]},
        "[No Model Package Group was created]",
    ]


@pytest.mark.parametrize("stack", BOTH)
def test_topic_is_encrypted_tls_only_and_mails_the_notification_email(synthesized, stack):
    template = synthesized.template(stack)
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": {"Ref": "NotificationEmail"}}
    )
    policy = json.dumps(_one(synthesized.templates[stack], "AWS::SNS::TopicPolicy")[1])
    assert "aws:SecureTransport" in policy and "events.amazonaws.com" in policy


@pytest.mark.parametrize("stack", BOTH)
def test_eventbridge_may_use_the_notifications_key_without_a_source_account(synthesized, stack):
    """EventBridge is not documented to send aws:SourceAccount to KMS: its key statement has no condition, as the
    SNS Developer Guide writes it; the other services keep theirs, and the topic policy keeps sns:Publish to this
    account's rules."""
    # The notifications key (the stack also has its log groups' LogsKey).
    (_, key), *_ = [
        (k, r)
        for k, r in synthesized.templates[stack]["Resources"].items()
        if r["Type"] == "AWS::KMS::Key" and k.startswith("NotificationsKey")
    ]
    statements = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    events = statements["EventBridgePublish"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"] and "Condition" not in events
    services = statements["ServicesPublish"]
    assert "events.amazonaws.com" not in json.dumps(services["Principal"])
    assert services["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    policy = _one(synthesized.templates[stack], "AWS::SNS::TopicPolicy")[1]["Properties"]["PolicyDocument"]
    (publish,) = [s for s in policy["Statement"] if s.get("Sid") == "EventBridgePublish"]
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


@pytest.mark.parametrize("stack", BOTH)
def test_outputs(synthesized, stack):
    outputs = synthesized.templates[stack]["Outputs"]
    assert set(outputs) == {
        "PipelineOrchestrationLambdaRestApiEndpoint9B628338",
        "BlueprintsBucket",
        "AssetsBucket",
        "ECRRepoName",
        "ECRRepoArn",
        "ModelRegistryArn",
        "PipelineIndexTable",
        "MLOpsNotificationsTopicArn",
    }
    assert outputs["PipelineIndexTable"]["Value"] == {"Ref": _pipeline_index_id(synthesized.templates[stack])}


# ---------------------------------------------------------------------------------------------------------
# The pipeline index

INDEX_ACTIONS = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]


def _pipeline_index_id(template: dict[str, Any]) -> str:
    return _one(template, "AWS::DynamoDB::Table")[0]


@pytest.mark.parametrize("stack", BOTH)
def test_pipeline_index_table(synthesized, stack):
    template = synthesized.template(stack)
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "KeySchema": [{"AttributeName": "pipeline_name", "KeyType": "HASH"}],
                "AttributeDefinitions": Match.exact(
                    [
                        {"AttributeName": "pipeline_name", "AttributeType": "S"},
                        {"AttributeName": "listing", "AttributeType": "S"},
                        {"AttributeName": "position", "AttributeType": "S"},
                    ]
                ),
                "GlobalSecondaryIndexes": Match.exact(
                    [
                        {
                            "IndexName": "newest-first",
                            "KeySchema": [
                                {"AttributeName": "listing", "KeyType": "HASH"},
                                {"AttributeName": "position", "KeyType": "RANGE"},
                            ],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                    ]
                ),
                "BillingMode": "PAY_PER_REQUEST",
                "ProvisionedThroughput": Match.absent(),
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
            },
            # Rebuilt from the pipelines' stacks: nothing is lost with it.
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Condition": Match.absent(),
        },
    )


def test_local_mode_creates_the_pipeline_index_the_stack_declares(synthesized):
    from moto import mock_aws

    from lambdas.shared.aws import client
    from local.session import create_index_table

    declared = synthesized.templates[SINGLE]["Resources"][_pipeline_index_id(synthesized.templates[SINGLE])]
    with mock_aws():
        table = client("dynamodb").describe_table(TableName=create_index_table("index"))["Table"]

    def schema(source: dict[str, Any]) -> tuple:
        return (
            sorted((a["AttributeName"], a["AttributeType"]) for a in source["AttributeDefinitions"]),
            source["KeySchema"],
            [(i["IndexName"], i["KeySchema"], i["Projection"]) for i in source["GlobalSecondaryIndexes"]],
        )

    assert schema(table) == schema(declared["Properties"])


@pytest.mark.parametrize("stack", BOTH)
def test_orchestrator_is_told_the_pipeline_index_table(synthesized, stack):
    template = synthesized.template(stack)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "lambdas.pipeline_orchestration.index.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {"PIPELINE_INDEX_TABLE": {"Ref": _pipeline_index_id(synthesized.templates[stack])}}
                )
            },
        },
    )


@pytest.mark.parametrize("stack", BOTH)
def test_orchestrator_reads_and_writes_the_pipeline_index_and_nothing_more(synthesized, stack):
    templates = synthesized.templates[stack]
    table_id = _pipeline_index_id(templates)
    role_id, _ = _one(templates, "AWS::IAM::Role", Description="Role of the MLOps orchestrator Lambda")
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}
    synthesized.template(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": INDEX_ACTIONS,
                            "Effect": "Allow",
                            "Resource": [table_arn, {"Fn::Join": ["", [table_arn, "/index/newest-first"]]}],
                        }
                    ]
                )
            },
            "Roles": [{"Ref": role_id}],
        },
    )
    # No other statement of the template names a DynamoDB action or the table.
    granting = [
        statement
        for _, resource in _resources(templates, "AWS::IAM::Policy").items()
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if "dynamodb:" in json.dumps(statement["Action"]) or table_id in json.dumps(statement["Resource"])
    ]
    assert [sorted(_actions([statement])) for statement in granting] == [INDEX_ACTIONS]
    roles = json.dumps(_resources(templates, "AWS::IAM::Role"))
    assert "dynamodb:" not in roles and table_id not in roles


# ---------------------------------------------------------------------------------------------------------
# Blueprint copy


@pytest.mark.parametrize("stack", BOTH)
def test_blueprints_are_copied_from_the_distribution_on_create_and_update(synthesized, stack):
    from infrastructure.distribution import Distribution

    distribution = Distribution.from_env()
    template = synthesized.templates[stack]
    _, copy = _one(template, "Custom::CopyBlueprints")
    properties = copy["Properties"]
    assert properties["SourceBucket"] == {"Fn::Sub": f"{distribution.bucket}-${{AWS::Region}}"}
    assert properties["SourceKey"] == f"{distribution.solution}/{distribution.version}/blueprints.zip"
    assert properties["DestinationPrefix"] == "blueprints/"
    assert properties["DestinationBucket"]["Ref"].startswith("BlueprintRepository")
    _one(template, "AWS::Lambda::Function", Handler="lambdas.custom_resource.copy_assets.handler")


@pytest.mark.parametrize("stack", BOTH)
def test_orchestrator_code_comes_from_the_distribution_bucket(synthesized, stack):
    from infrastructure.distribution import Distribution

    distribution = Distribution.from_env()
    for function in _resources(synthesized.templates[stack], "AWS::Lambda::Function").values():
        code = function["Properties"]["Code"]
        if "ZipFile" in code:  # CDK's inline bucket-notifications handler
            continue
        assert code["S3Bucket"] == {"Fn::Sub": f"{distribution.bucket}-${{AWS::Region}}"}
        assert code["S3Key"].startswith(distribution.prefix) and code["S3Key"].endswith(".zip")


def _cloudformation_arn(resource: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":cloudformation:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":{resource}",
            ],
        ]
    }


@pytest.mark.parametrize("stack", BOTH)
def test_pipeline_stack_events_continue_teardowns(synthesized, stack):
    """Every status change of a pipeline stack (the pipeline index follows them all), only finished operations of
    a pipeline StackSet; both reach the orchestrator, which the rules may invoke."""
    template = synthesized.template(stack)
    function_arn = {"Fn::GetAtt": [_orchestrator_ids(synthesized.templates[stack])[0], "Arn"]}
    patterns = [
        {
            "source": ["aws.cloudformation"],
            "detail-type": ["CloudFormation Stack Status Change"],
            "resources": [{"prefix": _cloudformation_arn("stack/mlops-pipeline")}],
        },
        {
            "source": ["aws.cloudformation"],
            "detail-type": ["CloudFormation StackSet Operation Status Change"],
            "detail": {"status-details": {"status": ["SUCCEEDED", "FAILED", "STOPPED"]}},
            "resources": [{"prefix": _cloudformation_arn("stackset/mlops-pipeline")}],
        },
    ]
    rule_ids = []
    for pattern in patterns:
        found = template.find_resources(
            "AWS::Events::Rule",
            {
                "Properties": {
                    "Description": Match.string_like_regexp("keeps? the pipeline index current"),
                    "EventPattern": Match.exact(pattern),
                    "Targets": [Match.object_like({"Arn": function_arn})],
                }
            },
        )
        assert len(found) == 1, pattern["detail-type"]
        rule_ids += list(found)
        template.has_resource_properties(
            "AWS::Lambda::Permission",
            {
                "Action": "lambda:InvokeFunction",
                "FunctionName": function_arn,
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": [rule_ids[-1], "Arn"]},
            },
        )
    assert rule_ids[0].startswith("PipelineStackEvents")
    # No other rule listens to CloudFormation.
    listening = {"Properties": {"EventPattern": {"source": ["aws.cloudformation"]}}}
    assert len(template.find_resources("AWS::Events::Rule", listening)) == 2


def _codepipeline_arn(resource: str) -> dict[str, Any]:
    parts = _cloudformation_arn(resource)["Fn::Join"][1]
    return {"Fn::Join": ["", [*parts[:2], ":codepipeline:", *parts[3:]]]}


@pytest.mark.parametrize("stack", BOTH)
def test_pipeline_executions_and_approvals_keep_the_pipeline_state_current(synthesized, stack):
    """The orchestrator hears every execution and stage change of its pipelines, and their approvals only among
    the actions; of its own pipelines alone."""
    template = synthesized.template(stack)
    function_arn = {"Fn::GetAtt": [_orchestrator_ids(synthesized.templates[stack])[0], "Arn"]}
    pipelines = [{"prefix": _codepipeline_arn("mlops-pipeline")}]
    patterns = [
        {
            "source": ["aws.codepipeline"],
            "detail-type": [
                "CodePipeline Pipeline Execution State Change",
                "CodePipeline Stage Execution State Change",
            ],
            "resources": pipelines,
        },
        {
            "source": ["aws.codepipeline"],
            "detail-type": ["CodePipeline Action Execution State Change"],
            "detail": {"type": {"category": ["Approval"]}},
            "resources": pipelines,
        },
    ]
    for pattern in patterns:
        found = template.find_resources(
            "AWS::Events::Rule",
            {
                "Properties": {
                    "EventPattern": Match.exact(pattern),
                    "Targets": [Match.object_like({"Arn": function_arn})],
                }
            },
        )
        assert len(found) == 1, pattern["detail-type"]
        template.has_resource_properties(
            "AWS::Lambda::Permission",
            {
                "Action": "lambda:InvokeFunction",
                "FunctionName": function_arn,
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": [next(iter(found)), "Arn"]},
            },
        )


@pytest.mark.parametrize("stack", BOTH)
def test_approvals_are_limited_to_pipeline_actions(synthesized, stack):
    statements = _statements(synthesized.templates[stack], "OrchestratorPolicy")
    approval = [s for s in statements if "codepipeline:PutApprovalResult" in json.dumps(s["Action"])]
    assert len(approval) == 1 and "codepipeline:" in json.dumps(approval[0]["Resource"])
    assert "mlops-pipeline*/*/*" in json.dumps(approval[0]["Resource"])


@pytest.mark.parametrize("stack", BOTH)
def test_the_assets_bucket_sends_events_to_eventbridge(synthesized, stack):
    """The pipelines' S3 source actions start from EventBridge events of template.zip, not polling."""
    buckets = _resources(synthesized.templates[stack], "AWS::S3::Bucket")
    assets = next(b for k, b in buckets.items() if k.startswith("AssetsS3Bucket"))
    assert assets["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }


@pytest.mark.parametrize("stack", BOTH)
def test_monitoring_executions_and_monitor_alarms_reach_the_orchestrator(synthesized, stack):
    """Finished monitoring executions (of any schedule: the orchestrator tells its own) and the ALARM state of
    alarms named mlops-pipeline*, with retries and the failed-events queue."""
    template = synthesized.template(stack)
    function_arn = {"Fn::GetAtt": [_orchestrator_ids(synthesized.templates[stack])[0], "Arn"]}
    patterns = [
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Processing Job State Change"],
            "detail": {"ProcessingJobStatus": ["Completed", "Failed", "Stopped"]},
        },
        {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": [{"prefix": "mlops-pipeline"}], "state": {"value": ["ALARM"]}},
        },
    ]
    for pattern in patterns:
        found = template.find_resources(
            "AWS::Events::Rule",
            {
                "Properties": {
                    "EventPattern": Match.exact(pattern),
                    "Targets": [
                        Match.object_like(
                            {
                                "Arn": function_arn,
                                "RetryPolicy": {"MaximumRetryAttempts": 2},
                                "DeadLetterConfig": {"Arn": Match.any_value()},
                            }
                        )
                    ],
                }
            },
        )
        assert len(found) == 1, pattern["detail-type"]


@pytest.mark.parametrize("stack", BOTH)
def test_the_monitoring_loops_grants_are_scoped(synthesized, stack):
    statements = _statements(synthesized.templates[stack], "OrchestratorPolicy")

    def granting(action: str) -> list[dict[str, Any]]:
        return [s for s in statements if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]

    [metric] = granting("cloudwatch:PutMetricData")
    assert metric["Condition"] == {"StringEquals": {"cloudwatch:namespace": "MLOps/ModelMonitor"}}
    reports = [s for s in granting("s3:GetObject") if "constraint_violations.json" in json.dumps(s["Resource"])]
    assert len(reports) == 1 and reports[0]["Condition"] == {
        "StringEquals": {"s3:ResourceAccount": {"Ref": "AWS::AccountId"}}
    }
    assert json.dumps(reports[0]["Resource"]).endswith('":s3:::*/*/constraint_violations.json"]]}')
    [schedules] = granting("sagemaker:DescribeMonitoringSchedule")
    assert ":monitoring-schedule/*" in json.dumps(schedules["Resource"])
    [listing] = granting("sagemaker:ListMonitoringExecutions")
    # IAM authorizes ListMonitoringExecutions on * only; CDK merges it with the other reads that take no resource.
    assert listing["Resource"] == "*" and "Condition" not in listing
    assert all(a.split(":")[1].startswith(("List", "Describe")) for a in listing["Action"])


# The README's "Who may do what" embeds these policies: each names method ARNs of the orchestrator's API.
IAM_EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "iam"
METHOD_ARN = re.compile(
    r"arn:aws:execute-api:(?P<region>[^:]+):(?P<account>[^:]+):(?P<api>[^/]+)/(?P<stage>[^/]+)"
    r"/(?P<method>[A-Z]+)(?P<path>/.*)"
)
PATH_PARAMETER = re.compile(r"\{[a-z_]+\}")


def _method_arn_paths(route: tuple[str, str]) -> str:
    """How a route appears in a method ARN: its path parameters are wildcards."""
    method, path = route
    return method + PATH_PARAMETER.sub("*", path)


@pytest.mark.parametrize("stack", BOTH)
def test_the_readmes_iam_examples_name_the_apis_own_method_arns(synthesized, stack):
    template = synthesized.templates[stack]
    paths = {k: r["Properties"]["PathPart"] for k, r in _resources(template, "AWS::ApiGateway::Resource").items()}
    served = {
        _method_arn_paths((m["Properties"]["HttpMethod"], _path(template, m["Properties"]["ResourceId"]["Ref"], paths)))
        for m in _resources(template, "AWS::ApiGateway::Method").values()
    }
    (stage,) = [s["Properties"]["StageName"] for s in _resources(template, "AWS::ApiGateway::Stage").values()]
    named: dict[str, set[str]] = {}
    for example in sorted(IAM_EXAMPLES.glob("*.json")):
        policy = json.loads(example.read_text())
        for statement in policy["Statement"]:
            assert statement["Action"] == "execute-api:Invoke", example.name
            for resource in statement["Resource"]:
                found = METHOD_ARN.fullmatch(resource)
                assert found and found["stage"] == stage, (example.name, resource)
                named.setdefault(example.stem, set()).add(found["method"] + found["path"])
    assert set(named) == {"data-scientist", "reviewer", "operator"}
    for role, routes in named.items():
        assert routes <= served, (role, routes - served)
    # Together the three roles cover every route, and only the reviewer may approve.
    assert set().union(*named.values()) >= served - {"POST/pipelinestatus"}
    assert [role for role, routes in named.items() if "POST/pipelines/*/approval" in routes] == ["reviewer"]


@pytest.mark.parametrize("stack", BOTH)
def test_self_approval_is_off_by_default_and_admin_arns_are_checked(synthesized, stack):
    parameters = synthesized.templates[stack]["Parameters"]
    assert parameters["AllowSelfApproval"]["Default"] == "No"
    pattern = re.compile(parameters["AdminPrincipalArns"]["AllowedPattern"])
    ok = [
        "",
        "arn:aws:iam::123456789012:role/Admin",
        "arn:aws:iam::123456789012:user/ops,arn:aws:sts::123456789012:assumed-role/Admin/ops1",
    ]
    assert all(pattern.fullmatch(value) for value in ok)
    assert not any(pattern.fullmatch(v) for v in ("admin", "arn:aws:s3:::bucket", "arn:aws:iam::1:user/x,"))
