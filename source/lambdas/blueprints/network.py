# SPDX-License-Identifier: Apache-2.0
"""The VPC of the jobs the blueprints' Lambdas start, from their custom resource's properties."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def ids(text: str) -> list[str]:
    """Comma-separated ids (a stack parameter) as a list."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def vpc_config(props: Mapping[str, Any]) -> dict[str, list[str]] | None:
    """SageMaker's VpcConfig, or None when the stack names no subnets (the job runs outside any VPC)."""
    subnets, groups = ids(props.get("SubnetIds", "")), ids(props.get("SecurityGroupIds", ""))
    if not subnets:
        return None
    return {"Subnets": subnets, "SecurityGroupIds": groups}


def flag(props: Mapping[str, Any], key: str, default: bool) -> bool:
    """A "True"/"False" property."""
    value = props.get(key, "")
    return default if value == "" else value == "True"
