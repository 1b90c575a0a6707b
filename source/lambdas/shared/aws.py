# SPDX-License-Identifier: Apache-2.0
"""AWS clients: created lazily, once per process, standard retries, a user agent naming the solution."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

SOLUTION_NAME = "mlops-orchestrator"
SOLUTION_VERSION = os.environ.get("SOLUTION_VERSION", "0.1.0")


@cache
def client(service: str, region: str | None = None) -> Any:
    """One boto3 client per (service, region) for the life of the process."""
    import boto3  # deferred: the handler's import time is a measured budget
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        user_agent_extra=f"{SOLUTION_NAME}/{SOLUTION_VERSION}",
    )
    return boto3.session.Session().client(service, region_name=region or os.environ.get("AWS_REGION"), config=config)


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()


def error_code(error: BaseException) -> str:
    """The code of an AWS call's failure ("" for anything that is not an AWS answer)."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_not_found(error: BaseException) -> bool:
    """AWS says the named resource does not exist. SageMaker says it with ResourceNotFound or with a
    ValidationException whose message names the missing resource."""
    code = error_code(error)
    message = str(error).lower()
    return code in ("ResourceNotFound", "ResourceNotFoundException") or (
        code == "ValidationException"
        and any(text in message for text in ("not found", "could not find", "does not exist"))
    )


def is_already_there(error: BaseException) -> bool:
    """AWS refused a create because a resource of that name exists (SageMaker: ResourceInUse, or a
    ValidationException saying the name must be unique)."""
    message = str(error).lower()
    return error_code(error) == "ResourceInUse" or (
        bool(error_code(error)) and ("already exists" in message or "must be unique" in message)
    )
