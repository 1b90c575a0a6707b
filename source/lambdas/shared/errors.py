# SPDX-License-Identifier: Apache-2.0
"""The one exception hierarchy of the orchestrator; `http_status` is read by the single error mapper."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One broken rule: the field (dotted path, `stage` suffix for stage objects) and what is wrong."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class OrchestratorError(Exception):
    """Base of every error the orchestrator raises on purpose."""

    http_status = 500
    summary = "An Unexpected Server side exception occurred"
    retry_after: int | None = None  # seconds: the answer asks the caller to try again (the Retry-After header)

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class BadRequest(OrchestratorError):
    """The request is malformed or breaks a validation rule; nothing was created."""

    http_status = 400
    summary = "A BadRequest exception occurred"


class ValidationFailed(BadRequest):
    """One or more fields broke their rules; `errors` lists every one of them."""

    def __init__(self, errors: list[FieldError], warnings: tuple[str, ...] | list[str] = ()) -> None:
        count = len(errors)
        lines = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(f"Bad request. {count} invalid field{'s' if count != 1 else ''}: {lines}", errors)
        # The keys that were ignored, said with the errors so one answer tells everything about the body.
        self.warnings = list(warnings)


class BodyTooLarge(BadRequest):
    """The request body is larger than the orchestrator reads; it was not parsed."""

    http_status = 413
    summary = "Payload too large"


class Forbidden(OrchestratorError):
    """The caller may not do this: another principal owns the pipeline, or must approve what this one asked for."""

    http_status = 403
    summary = "Forbidden"


class NotFound(OrchestratorError):
    """The pipeline (or route) asked for does not exist."""

    http_status = 404
    summary = "Not found"


class Conflict(OrchestratorError):
    """The pipeline is in a state that does not allow the operation (for example still running)."""

    http_status = 409
    summary = "Conflict"


class ProvisioningFailed(OrchestratorError):
    """An AWS call failed part-way; `detail` says what was done and what is left."""

    http_status = 500
    summary = "Provisioning failed"

    def __init__(
        self,
        detail: str,
        aws_status: int | None = None,
        left_behind: list[str] | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(detail)
        if aws_status and 400 <= aws_status < 600:
            self.http_status = aws_status
        self.left_behind = left_behind or []
        self.retry_after = retry_after


class TryAgain(OrchestratorError):
    """AWS throttled a call, failed on its side or did not answer: the request may succeed when sent again
    (503 with Retry-After; 502 when the connection was lost, 504 when no answer came in time)."""

    summary = "AWS is unavailable for the moment; try again"

    def __init__(self, detail: str, status: int = 503, retry_after: int | None = 5) -> None:
        super().__init__(detail)
        self.http_status = status
        self.retry_after = retry_after


class DeletionFailed(OrchestratorError):
    """AWS refused to delete some of a pipeline's objects; `left_behind` names them, and DELETE may be called again."""

    http_status = 500
    summary = "Deletion failed"

    def __init__(self, detail: str, left_behind: list[str]) -> None:
        super().__init__(detail)
        self.left_behind = left_behind
