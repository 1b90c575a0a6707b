# SPDX-License-Identifier: Apache-2.0
"""AWS clients: created lazily, once per process, standard retries with a budget per request, a user agent
naming the solution; and what AWS's answers mean (not found, already there, try again)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

SOLUTION_NAME = "mlops-orchestrator"
SOLUTION_VERSION = os.environ.get("SOLUTION_VERSION", "0.1.0")
# Every call is tried at most this many times in all (the first attempt and three retries), with the SDK's
# exponential backoff between attempts.
ATTEMPTS_PER_CALL = 4
# What an answer of "try again" asks the caller to wait, in seconds (the Retry-After header).
RETRY_AFTER_SECONDS = 5
logger = logging.getLogger(__name__)

# The retry budgets of the cached clients: refilled at the start of each request (`refill_retry_budgets`), so
# that a burst of faults in one request never leaves the next request's calls without retries.
_BUDGETS: list[Any] = []


@cache
def client(service: str, region: str | None = None) -> Any:
    """One boto3 client per (service, region) for the life of the process."""
    import boto3  # deferred: the handler's import time is a measured budget
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "total_max_attempts": ATTEMPTS_PER_CALL},
        user_agent_extra=f"{SOLUTION_NAME}/{SOLUTION_VERSION}",
    )
    made = boto3.session.Session().client(service, region_name=region or os.environ.get("AWS_REGION"), config=config)
    _budget_per_request(made)
    made.meta.events.register("after-call", _name_the_failed_call)
    made.meta.events.register("after-call-error", _name_the_failed_call)
    return made


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
    _BUDGETS.clear()


def refill_retry_budgets() -> None:
    """A new request starts with full retry budgets (each client's SDK quota, shared by its calls otherwise)."""
    for budget in _BUDGETS:
        budget.refill()


def _budget_per_request(made: Any) -> None:
    """Replace the client's process-wide retry quota by one that `refill_retry_budgets` refills, and that logs
    when it runs out (botocore then stops retrying quietly)."""
    from botocore.retries import quota, standard

    class RequestBudget(standard.RetryQuotaChecker):  # type: ignore[misc]
        def acquire_retry_quota(self, context: Any) -> bool:
            granted = bool(super().acquire_retry_quota(context))
            if not granted:
                logger.warning("retry budget of this request spent: %s is not retried", context.operation_model.name)
            return granted

        def refill(self) -> None:
            self._quota = quota.RetryQuota()

    name = made.meta.service_model.service_id.hyphenize()
    made.meta.events.unregister(f"needs-retry.{name}", unique_id=f"retry-config-{name}")
    handler = standard.register_retry_handler(made, max_attempts=ATTEMPTS_PER_CALL)
    budget = RequestBudget(quota.RetryQuota(), handler._retry_quota._throttling_detector)
    handler._retry_quota = budget
    made.meta.events.register(f"after-call.{name}", budget.release_retry_quota)
    _BUDGETS.append(budget)


def _name_the_failed_call(event_name: str, **kwargs: Any) -> None:
    """Record on a failed call's error which service and operation failed (`service:Operation`, as IAM names it)."""
    _, service, operation = event_name.split(".", 2)
    named = f"{service.lower()}:{operation}"
    if "exception" in kwargs:  # the call raised (a dropped connection, a timeout): no answer arrived
        kwargs["exception"].aws_operation = named
    elif kwargs.get("http_response") is not None and kwargs["http_response"].status_code >= 300:
        kwargs["parsed"].setdefault("ResponseMetadata", {})["Operation"] = named


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


# --- "try again": AWS was busy or did not answer ----------------------------------------------------------------
# The codes AWS's services throttle with (botocore's own list of throttling codes, the ones our services use).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
BAD_GATEWAY, SERVICE_UNAVAILABLE, GATEWAY_TIMEOUT = 502, 503, 504


@dataclass(frozen=True)
class Unavailable:
    """An AWS call that may succeed when tried again: the answer's status, its Retry-After and what failed."""

    status: int
    retry_after: int | None
    reason: str


def operation_of(error: BaseException) -> str:
    """`service:Operation` of the AWS call that failed ("" when unknown)."""
    named = str(getattr(error, "aws_operation", "")) or (
        (getattr(error, "response", None) or {}).get("ResponseMetadata", {}).get("Operation", "")
    )
    if not named:
        named = str(getattr(error, "operation_name", None) or "")
    return str(named)


def attempts_note(error: BaseException) -> str:
    metadata = (getattr(error, "response", None) or {}).get("ResponseMetadata", {})
    if metadata.get("RetryQuotaReached"):
        return " (not retried: this request's retry budget was spent)"
    if metadata.get("MaxAttemptsReached"):
        return f" (after {ATTEMPTS_PER_CALL} attempts)"
    return ""


def unavailable(error: BaseException) -> Unavailable | None:
    """AWS throttled the call, failed on its side (5xx), or its answer never came: a 503 with Retry-After, a 502
    (no connection) or a 504 (no answer in time), naming the call. None for every other failure."""
    from botocore.exceptions import (  # deferred: botocore is imported with the first client
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    operation = operation_of(error) or "an AWS call"
    if isinstance(error, ClientError):
        code = error_code(error)
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code not in THROTTLING_CODES and status < 500:
            return None
        message = str(error.response.get("Error", {}).get("Message", ""))[:200]
        if "<" in message or not message.isprintable():
            message = "the service's answer could not be read"
        said = f"{code or status}: {message}" if message else str(code or status)
        what = "throttled" if code in THROTTLING_CODES else "failed on its side during"
        return Unavailable(
            SERVICE_UNAVAILABLE,
            RETRY_AFTER_SECONDS,
            f"AWS {what} {operation} ({said}){attempts_note(error)}; try again later",
        )
    if isinstance(error, ReadTimeoutError | ConnectTimeoutError):
        return Unavailable(
            GATEWAY_TIMEOUT,
            RETRY_AFTER_SECONDS,
            f"{operation} did not answer in time ({type(error).__name__}); whether it was carried out is not known "
            "until the pipeline is described; try again later",
        )
    if isinstance(error, EndpointConnectionError | ConnectionClosedError):
        return Unavailable(
            BAD_GATEWAY,
            RETRY_AFTER_SECONDS,
            f"the connection to AWS was lost during {operation} ({type(error).__name__}); try again later",
        )
    return None
