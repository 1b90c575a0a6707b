# SPDX-License-Identifier: Apache-2.0
"""A small IAM policy evaluator for the statement shapes the solution's templates use.

Same-account evaluation as IAM documents it: an explicit Deny in any policy wins; otherwise the request is allowed
when the principal's identity policy (within its permissions boundary, if any) or the resource's policy allows it.
Condition operators beyond those below raise, so a policy this evaluator cannot judge fails the test instead of
passing it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from .resolve import resolve

ALLOW, IMPLICIT_DENY, EXPLICIT_DENY = "allow", "implicit deny", "explicit deny"


@dataclass(frozen=True)
class Request:
    principal_arn: str
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)  # condition keys of the request


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _operator(name: str, expected: list[str], actual: str | None) -> bool:
    positive = {
        "StringEquals": lambda e, a: e == a,
        "StringLike": _like,
        "ArnEquals": lambda e, a: e == a,
        "ArnLike": _like,
        "Bool": lambda e, a: str(e).lower() == str(a).lower(),
    }
    negated = {"StringNotEquals": "StringEquals", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}
    if name in negated:
        # A negated operator holds when the key is missing, or when no value matches.
        return actual is None or not _operator(negated[name], expected, actual)
    if name not in positive:
        raise NotImplementedError(f"condition operator {name} is not evaluated here")
    return actual is not None and any(positive[name](value, actual) for value in expected)


def _conditions_hold(statement: dict[str, Any], request: Request) -> bool:
    return all(
        _operator(operator, [str(v) for v in _listed(expected)], request.context.get(key))
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def _principal_matches(statement: dict[str, Any], request: Request) -> bool:
    principal = statement.get("Principal")
    if principal in ("*", {"AWS": "*"}):
        return True
    if isinstance(principal, dict) and "AWS" in principal:
        # An account's root (or its bare id) names every principal of that account.
        account = request.principal_arn.split(":")[4] if request.principal_arn.count(":") >= 5 else ""
        return any(
            named in (request.principal_arn, account) or named == f"arn:aws:iam::{account}:root"
            for named in _listed(principal["AWS"])
        )
    return False  # service principals are not the callers this evaluator judges


def applies(statement: dict[str, Any], request: Request, resource_policy: bool = False) -> bool:
    if "NotAction" in statement or "NotResource" in statement or "NotPrincipal" in statement:
        raise NotImplementedError("Not* elements are not evaluated here")
    return (
        any(_like(pattern, request.action, case_sensitive=False) for pattern in _listed(statement["Action"]))
        and any(_like(pattern, request.resource) for pattern in _listed(statement["Resource"]))
        and (not resource_policy or _principal_matches(statement, request))
        and _conditions_hold(statement, request)
    )


def decide(
    request: Request,
    identity: list[dict[str, Any]],
    resource_policy: list[dict[str, Any]] = (),  # type: ignore[assignment]
    boundary: list[dict[str, Any]] | None = None,
) -> str:
    matched = [(s, False) for s in identity if applies(s, request)]
    matched += [(s, True) for s in resource_policy if applies(s, request, resource_policy=True)]
    if any(s.get("Effect") == "Deny" for s, _ in matched):
        return EXPLICIT_DENY
    if boundary is not None and any(s.get("Effect") == "Deny" and applies(s, request) for s in boundary):
        return EXPLICIT_DENY
    identity_allows = any(s.get("Effect") == "Allow" for s, from_resource in matched if not from_resource)
    if identity_allows and boundary is not None:
        identity_allows = any(s.get("Effect") == "Allow" and applies(s, request) for s in boundary)
    resource_allows = any(s.get("Effect") == "Allow" for s, from_resource in matched if from_resource)
    return ALLOW if identity_allows or resource_allows else IMPLICIT_DENY


def _attributes_as_refs(node: Any) -> Any:
    """{"Fn::GetAtt": [R, A]} -> {"Ref": "R.A"}, so `resolve` substitutes attributes given as parameters."""
    if isinstance(node, dict):
        if set(node) == {"Fn::GetAtt"}:
            resource, attribute = node["Fn::GetAtt"]
            return {"Ref": f"{resource}.{attribute}"}
        return {key: _attributes_as_refs(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_attributes_as_refs(item) for item in node]
    return node


def concrete(template: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The template's resources for these parameter, Ref and attribute values ("Logical.Arn")."""
    return resolve(_attributes_as_refs(template), values)
