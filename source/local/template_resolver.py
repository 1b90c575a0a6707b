# SPDX-License-Identifier: Apache-2.0
"""Resolve CloudFormation intrinsic functions in a deployed stack's template (for the local pipeline runner)."""

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
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        parameter = self.template.get("Parameters", {}).get(name)
        if parameter is not None:
            return parameter.get("Default", "")
        return self.physical_ids.get(name, name)

    def get_att(self, logical_id: str, attribute: str) -> str:
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
            if function is not None:
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


_FUNCTIONS = {
    "Ref": lambda c, a: c.ref(a),
    "Fn::GetAtt": lambda c, a: c.get_att(*(a.split(".", 1) if isinstance(a, str) else a)),
    "Fn::Join": lambda c, a: str(a[0]).join(str(v) for v in c.resolve(a[1])),
    "Fn::Sub": _sub,
    "Fn::Select": lambda c, a: c.resolve(a[1])[int(c.resolve(a[0]))],
    "Fn::Split": lambda c, a: str(c.resolve(a[1])).split(a[0]),
    "Fn::If": lambda c, a: c.resolve(a[1]) if c.condition(a[0]) else c.resolve(a[2]),
    "Fn::Equals": lambda c, a: c.resolve(a[0]) == c.resolve(a[1]),
    "Fn::Not": lambda c, a: not c.resolve(a[0]),
    "Fn::And": lambda c, a: all(c.resolve(v) for v in a),
    "Fn::Or": lambda c, a: any(c.resolve(v) for v in a),
    "Condition": lambda c, a: c.condition(a),
    "Fn::GetAZs": lambda c, a: [f"{c.region}a", f"{c.region}b"],
    "Fn::Base64": lambda c, a: c.resolve(a),
}
