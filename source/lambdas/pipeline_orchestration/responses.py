# SPDX-License-Identifier: Apache-2.0
"""The one place that turns answers and exceptions into API Gateway proxy responses."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from lambdas.shared.aws import operation_of, unavailable
from lambdas.shared.errors import OrchestratorError, TryAgain
from lambdas.shared.logging import get_logger

from .adapters import aws_reason, http_status, is_client_error

logger = get_logger(__name__)
HEADERS = {"Content-Type": "application/json"}


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def to_json(body: Any) -> str:
    return json.dumps(body, default=_default, indent=4)


def ok(body: Any, status: int = 200) -> dict[str, Any]:
    return {"statusCode": status, "headers": HEADERS, "body": to_json(body), "isBase64Encoded": False}


def error(exc: BaseException, detailed: bool) -> dict[str, Any]:
    """Map any exception to a response; a 500 never carries a stack trace."""
    body: dict[str, Any]
    headers = dict(HEADERS)
    busy = None if isinstance(exc, OrchestratorError) else unavailable(exc)
    if busy:  # AWS throttled, failed on its side or did not answer: the caller may try again
        logger.error("AWS unavailable: %s", exc)
        exc = TryAgain(busy.reason, busy.status, busy.retry_after)
    if isinstance(exc, OrchestratorError):
        status, body = exc.http_status, {"message": exc.summary}
        if detailed:
            body["detailedMessage"] = exc.detail
        body["errors"] = [e.as_dict() for e in exc.errors]
        if getattr(exc, "warnings", None):
            body["warnings"] = list(exc.warnings)  # type: ignore[attr-defined]
        if getattr(exc, "left_behind", None):
            body["left_behind"] = exc.left_behind  # type: ignore[attr-defined]
        if exc.retry_after:
            headers["Retry-After"] = str(exc.retry_after)
        if status >= 500:
            logger.error("%s: %s", type(exc).__name__, exc.detail)
    elif is_client_error(exc):  # type: ignore[arg-type]
        status = http_status(exc) or 500  # type: ignore[arg-type]
        body = {"message": "A boto3 ClientError occurred", "errors": []}
        if detailed:
            operation = operation_of(exc)
            body["detailedMessage"] = (f"{operation}: " if operation else "") + aws_reason(exc)  # type: ignore[arg-type]
        logger.error("AWS error: %s", exc)
    else:
        status, body = 500, {"message": "An Unexpected Server side exception occurred", "errors": []}
        if detailed:
            body["detailedMessage"] = "An internal error occurred; the orchestrator's log has its details."
        logger.exception("unexpected error")
    return {"statusCode": status, "headers": headers, "body": to_json(body), "isBase64Encoded": False}
