# SPDX-License-Identifier: Apache-2.0
"""Resolve a template's conditions for given parameter values, as CloudFormation would.

Gives the resources a stack would really have, so a test can check a feature both on and off.
"""

from __future__ import annotations

from typing import Any

NO_VALUE = object()


PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin-codepipeline",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/"
    "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin-codepipeline/5f0e2a10-8c1d-11ef-9a3b-0a1b2c3d4e5f",
}


def resolve(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """Resources and outputs that exist for these parameters, with conditions, AWS::NoValue and the string
    functions resolved (references to resources stay as they are)."""
    values = {name: spec.get("Default", "") for name, spec in template.get("Parameters", {}).items()}
    values.update(PSEUDO)
    values.update(parameters)
    conditions: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in conditions:
            conditions[name] = bool(evaluate(template["Conditions"][name]))
        return conditions[name]

    def evaluate(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref" and arg in values:
                return values[arg]
            if key == "Ref" and arg == "AWS::NoValue":
                return NO_VALUE
            if key == "Condition":
                return condition(arg)
            if key == "Fn::Equals":
                return evaluate(arg[0]) == evaluate(arg[1])
            if key == "Fn::Not":
                return not evaluate(arg[0])
            if key == "Fn::And":
                return all(evaluate(a) for a in arg)
            if key == "Fn::Or":
                return any(evaluate(a) for a in arg)
            if key == "Fn::If":
                return evaluate(arg[1] if condition(arg[0]) else arg[2])
            if key == "Fn::Join":
                parts = [evaluate(part) for part in evaluate(arg[1])]
                if all(isinstance(part, str) for part in parts):
                    return arg[0].join(parts)
                return {key: [arg[0], parts]}
            if key == "Fn::Split":
                text = evaluate(arg[1])
                return text.split(arg[0]) if isinstance(text, str) else {key: [arg[0], text]}
            if key == "Fn::Select":
                items = evaluate(arg[1])
                return items[int(arg[0])] if isinstance(items, list) else {key: [arg[0], items]}
            if key == "Fn::FindInMap":
                mapping, first, second = (evaluate(a) for a in arg)
                return template["Mappings"][mapping][first][second]
        if isinstance(node, dict):
            out = {k: evaluate(v) for k, v in node.items()}
            return {k: v for k, v in out.items() if v is not NO_VALUE}
        if isinstance(node, list):
            return [v for v in (evaluate(item) for item in node) if v is not NO_VALUE]
        return node

    resources = {
        name: evaluate({k: v for k, v in resource.items() if k != "Condition"})
        for name, resource in template.get("Resources", {}).items()
        if "Condition" not in resource or condition(resource["Condition"])
    }
    outputs = {
        name: evaluate(output["Value"])
        for name, output in template.get("Outputs", {}).items()
        if "Condition" not in output or condition(output["Condition"])
    }
    return {"Resources": resources, "Outputs": outputs, "Conditions": conditions}


def of_type(resolved: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {k: v for k, v in resolved["Resources"].items() if v["Type"] == resource_type}


def one(resolved: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = of_type(resolved, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.values()))["Properties"]
