# SPDX-License-Identifier: Apache-2.0
"""Resolve CloudFormation intrinsic functions: the one resolver of the project.

The local pipeline runner resolves a deployed stack's template fully (resources by their physical ids);
`resolve_template` evaluates a template for given parameter values as CloudFormation would before it creates
anything (conditions, parameters, pseudo parameters and the string functions), keeping what names a resource
as the intrinsic it is, so tests can check what a stack would really hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()


@dataclass
class StackContext:
    """What a deployed stack knows: its parameters, pseudo parameters, resources and conditions."""

    template: Mapping[str, Any]
    parameters: Mapping[str, str]
    stack_name: str
    stack_id: str
    region: str
    account_id: str
    physical_ids: Mapping[str, str] = field(default_factory=dict)
    # No stack deployed: a reference to a resource (Ref, Fn::GetAtt, Fn::Sub) stays as it is.
    keep_references: bool = False

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }.get(name)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name.startswith("AWS::"):
            value = self.pseudo(name)
            return {"Ref": name} if value is None and self.keep_references else value
        parameter = self.template.get("Parameters", {}).get(name)
        if parameter is not None:
            return parameter.get("Default", "")
        if self.keep_references and name not in self.physical_ids:
            return {"Ref": name}
        return self.physical_ids.get(name, name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if self.keep_references and logical_id not in self.physical_ids:
            return {"Fn::GetAtt": [logical_id, attribute]}
        physical = self.physical_ids.get(logical_id, logical_id)
        resource_type = self.template.get("Resources", {}).get(logical_id, {}).get("Type", "")
        if attribute == "Arn" and not physical.startswith("arn:"):
            service = resource_type.split("::")[1].lower() if "::" in resource_type else "unknown"
            kind = {"lambda": "function", "iam": "role", "sns": "", "sqs": ""}.get(service, "resource")
            if service == "iam":
                return f"arn:aws:iam::{self.account_id}:role/{physical}"
            return f"arn:aws:{service}:{self.region}:{self.account_id}:{kind + ':' if kind else ''}{physical}"
        return physical

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {}).get(name, True)))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = _FUNCTIONS.get(key)
            if function is not None and not (self.keep_references and key in _NEED_A_STACK):
                return function(self, argument)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def _sub(context: StackContext, argument: Any) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], context.resolve(argument[1]))

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(variables[name])
        if "." in name and not name.startswith("AWS::"):
            logical, attribute = name.split(".", 1)
            return str(context.get_att(logical, attribute))
        return str(context.ref(name))

    return re.sub(r"\$\{([^!}][^}]*)\}", replace, text)


def _join(context: StackContext, argument: Any) -> Any:
    parts = context.resolve(argument[1])
    if not isinstance(parts, list) or any(isinstance(part, dict) for part in parts):
        return {"Fn::Join": [argument[0], parts]}  # a part names a resource no stack has created
    return str(argument[0]).join(str(part) for part in parts)


def _select(context: StackContext, argument: Any) -> Any:
    items = context.resolve(argument[1])
    if not isinstance(items, list):
        return {"Fn::Select": [argument[0], items]}
    return items[int(context.resolve(argument[0]))]


def _split(context: StackContext, argument: Any) -> Any:
    text = context.resolve(argument[1])
    return {"Fn::Split": [argument[0], text]} if isinstance(text, dict) else str(text).split(argument[0])


def _find_in_map(context: StackContext, argument: Any) -> Any:
    mapping, first, second = (context.resolve(part) for part in argument)
    return context.template["Mappings"][mapping][first][second]


_FUNCTIONS = {
    "Ref": lambda c, a: c.ref(a),
    "Fn::GetAtt": lambda c, a: c.get_att(*(a.split(".", 1) if isinstance(a, str) else a)),
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::FindInMap": _find_in_map,
    "Fn::If": lambda c, a: c.resolve(a[1]) if c.condition(a[0]) else c.resolve(a[2]),
    "Fn::Equals": lambda c, a: c.resolve(a[0]) == c.resolve(a[1]),
    "Fn::Not": lambda c, a: not c.resolve(a[0]),
    "Fn::And": lambda c, a: all(c.resolve(v) for v in a),
    "Fn::Or": lambda c, a: any(c.resolve(v) for v in a),
    "Condition": lambda c, a: c.condition(a),
    "Fn::GetAZs": lambda c, a: [f"{c.region}a", f"{c.region}b"],
    "Fn::Base64": lambda c, a: c.resolve(a),
}
# What only a deployed stack answers: kept as written when a template is resolved before any stack exists.
_NEED_A_STACK = frozenset({"Fn::Sub", "Fn::GetAZs", "Fn::Base64"})


def resolve_template(context: StackContext) -> dict[str, Any]:
    """The resources and outputs a stack of the context's template would have for its parameters, resolved, with
    the value of every condition (as CloudFormation decides them before it creates anything)."""
    template = context.template
    conditions = {name: context.condition(name) for name in template.get("Conditions", {})}
    resources = {
        name: context.resolve({k: v for k, v in resource.items() if k != "Condition"})
        for name, resource in template.get("Resources", {}).items()
        if "Condition" not in resource or conditions[resource["Condition"]]
    }
    outputs = {
        name: context.resolve(output["Value"])
        for name, output in template.get("Outputs", {}).items()
        if "Condition" not in output or conditions[output["Condition"]]
    }
    return {"Resources": resources, "Outputs": outputs, "Conditions": conditions}
