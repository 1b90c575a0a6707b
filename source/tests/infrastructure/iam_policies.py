# SPDX-License-Identifier: Apache-2.0
"""The IAM actions a role of a synthesized template is allowed, read from the template itself."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _refers_to(value: Any, logical_id: str) -> bool:
    return value == {"Ref": logical_id} or value == {"Fn::GetAtt": [logical_id, "Arn"]}


def role_documents(template: dict[str, Any], role_id: str) -> Iterator[dict[str, Any]]:
    """Every policy document that applies to the role: inline, attached policies, managed policies of the stack."""
    resources = template["Resources"]
    role = resources[role_id]["Properties"]
    for policy in role.get("Policies", []):
        yield policy["PolicyDocument"]
    managed = [arn for arn in role.get("ManagedPolicyArns", []) if isinstance(arn, dict) and "Ref" in arn]
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy" and any(_refers_to(r, role_id) for r in properties.get("Roles", [])):
            yield properties["PolicyDocument"]
        if resource["Type"] == "AWS::IAM::ManagedPolicy" and (
            any(_refers_to(r, role_id) for r in properties.get("Roles", [])) or {"Ref": logical_id} in managed
        ):
            yield properties["PolicyDocument"]


def allowed_actions(template: dict[str, Any], role_id: str) -> set[str]:
    """The actions (as written, wildcards kept) of the role's Allow statements; resources and conditions aside."""
    return {
        action
        for document in role_documents(template, role_id)
        for statement in _as_list(document.get("Statement", []))
        if statement.get("Effect", "Allow") == "Allow"
        for action in _as_list(statement.get("Action", []))
    }


def allows(granted: Iterable[str], action: str) -> bool:
    """Action level: `action` matches a granted action, `*` and `?` expanded, case-insensitively as IAM does."""
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in granted)


def roles_assumed_by(template: dict[str, Any], service: str) -> list[str]:
    """Logical ids of the template's roles that the service principal may assume."""
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        trust = resource["Properties"].get("AssumeRolePolicyDocument", {})
        principals = [
            principal
            for statement in _as_list(trust.get("Statement", []))
            for principal in _as_list(statement.get("Principal", {}).get("Service", []))
        ]
        if service in principals:
            found.append(logical_id)
    return found


# create, update and delete change a resource; CloudFormation calls read after each of them.
HANDLERS = ("create", "read", "update", "delete")
SINGLE, MULTI = "mlops-orchestrator-single-account", "mlops-orchestrator-multi-account"


@cache
def _schemas() -> tuple[dict[str, str], Path]:
    import cfnlint.data.schemas

    schemas = Path(cfnlint.data.schemas.__file__).parent
    return json.loads((schemas / "providers" / "us-east-1.json").read_text()), schemas / "resources"


@cache
def handler_permissions(resource_type: str) -> frozenset[str]:
    """What CloudFormation's handlers for the type call, per its registry schema (shipped with cfn-lint); empty for
    custom resources."""
    providers, resources = _schemas()
    if resource_type not in providers:
        return frozenset()
    handlers = json.loads((resources / f"{providers[resource_type]}.json").read_text()).get("handlers", {})
    return frozenset(
        permission for handler in HANDLERS for permission in handlers.get(handler, {}).get("permissions", [])
    )


def deploying_roles(templates: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(blueprint template, the deploying role's label, the template holding that role, the role's logical id).

    The orchestrator's CloudFormation role deploys the wrappers and the image builder; every other blueprint is
    deployed by the single-account pipeline's deploy role (in multi-account mode by the StackSet execution role of
    each target account, which the account's administrators own)."""
    from app import stack_id
    from lambdas.pipeline_orchestration.catalogue import (
        IMAGE_BUILDER,
        MULTI_ACCOUNT_PIPELINE,
        SINGLE_ACCOUNT_PIPELINE,
    )

    wrappers = {
        stack_id(SINGLE_ACCOUNT_PIPELINE.template): (SINGLE,),
        stack_id(MULTI_ACCOUNT_PIPELINE.template): (MULTI,),
        stack_id(IMAGE_BUILDER.template): (SINGLE, MULTI),
    }
    deploy_role_template = stack_id(SINGLE_ACCOUNT_PIPELINE.template)

    def cloudformation_role(stack: str) -> str:
        (role,) = roles_assumed_by(templates[stack], "cloudformation.amazonaws.com")
        return role

    found = []
    for name in sorted(templates):
        if name in (SINGLE, MULTI):
            continue
        if name in wrappers:
            found += [
                (name, f"{stack} CloudFormation role", stack, cloudformation_role(stack)) for stack in wrappers[name]
            ]
        else:
            found.append((name, "deploy role", deploy_role_template, cloudformation_role(deploy_role_template)))
    return found
