# SPDX-License-Identifier: Apache-2.0
"""The IAM actions a role of a synthesized template is allowed, read from the template itself."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
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
