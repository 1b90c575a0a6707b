# SPDX-License-Identifier: Apache-2.0
"""Lambda entry point of the orchestrator: turn the event into a service call and the answer into a reply."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from lambdas.shared.aws import refill_retry_budgets
from lambdas.shared.errors import BadRequest, BodyTooLarge, FieldError, Forbidden, NotFound, ValidationFailed
from lambdas.shared.logging import get_logger

from . import responses
from .identity import Principal, from_api_event
from .monitoring import is_monitoring_event
from .service import OrchestratorService
from .settings import Settings
from .validation import MAX_BODY_BYTES, MAX_KEYS, MAX_NESTING, key_count, nesting_depth, too_deep, too_many_keys

logger = get_logger(__name__)

Route = Callable[[OrchestratorService, dict[str, Any], Principal], Any]
# EventBridge's scheduled rule that invokes the reconciliation of the pipeline index.
SCHEDULED = ("aws.events", "Scheduled Event")
# A pipeline name in a path: what stack names allow (so no control character reaches an AWS call).
PIPELINE_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")


def _body(event: dict[str, Any]) -> Any:
    raw = event.get("body")
    if raw is None or raw == "":
        raise BadRequest("Bad request. The request body is empty; send a JSON object.")
    if event.get("isBase64Encoded"):
        import base64

        raw = base64.b64decode(raw)
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_BODY_BYTES:
        raise BodyTooLarge(
            f"Bad request. The request body is {size} bytes; at most {MAX_BODY_BYTES} (256 KiB) are read."
        )
    try:
        body = json.loads(raw)
    except RecursionError:
        raise too_deep() from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"Bad request. The request body is not valid JSON: {error}") from None
    if nesting_depth(body) > MAX_NESTING:
        raise too_deep()
    count = key_count(body)
    if count > MAX_KEYS:
        raise too_many_keys(count)
    return body


def _path(event: dict[str, Any], name: str) -> str:
    value = (event.get("pathParameters") or {}).get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"Bad request. The path parameter {name} is missing.")
    if name == "pipeline_name" and not PIPELINE_NAME.fullmatch(value.strip()):
        raise ValidationFailed(
            [FieldError(name, "must be a pipeline name: a letter, then letters, digits and hyphens, at most 128")]
        )
    return value.strip()


def _query(event: dict[str, Any]) -> dict[str, str]:
    return dict(event.get("queryStringParameters") or {})


# (method, API Gateway resource) -> route; each hears the caller API Gateway authenticated.
ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/provisionpipeline"): lambda service, event, caller: service.provision(_body(event), caller),
    ("POST", "/pipelinestatus"): lambda service, event, caller: service.status(_body(event)),
    ("POST", "/pipelines/{pipeline_name}/approval"): lambda service, event, caller: service.approve(
        _path(event, "pipeline_name"), _body(event), caller
    ),
    ("GET", "/pipelines"): lambda service, event, caller: service.list_pipelines(_query(event)),
    ("GET", "/pipelines/{pipeline_name}"): lambda service, event, caller: service.describe_pipeline(
        _path(event, "pipeline_name")
    ),
    ("DELETE", "/pipelines/{pipeline_name}"): lambda service, event, caller: service.delete_pipeline(
        _path(event, "pipeline_name"), caller
    ),
    ("POST", "/pipelines/{pipeline_name}/rollback"): lambda service, event, caller: service.rollback_pipeline(
        _path(event, "pipeline_name"), caller
    ),
    ("GET", "/pipelines/{pipeline_name}/history"): lambda service, event, caller: service.pipeline_history(
        _path(event, "pipeline_name")
    ),
    ("POST", "/pipelines/{pipeline_name}/retry"): lambda service, event, caller: service.retry_pipeline(
        _path(event, "pipeline_name"), caller
    ),
    ("POST", "/pipelines/{pipeline_name}/stop"): lambda service, event, caller: service.stop_execution(
        _path(event, "pipeline_name"), caller
    ),
}
# Routes that answer other than 200 OK: a DELETE starts a teardown that stack events carry on, a stop asks
# CodePipeline to stop an execution, which it does a moment later (202 Accepted).
ROUTE_STATUS = {("DELETE", "/pipelines/{pipeline_name}"): 202, ("POST", "/pipelines/{pipeline_name}/stop"): 202}
# The routes whose request carries a JSON body (API Gateway checks that it is an object).
BODY_ROUTES = {
    ("POST", "/provisionpipeline"),
    ("POST", "/pipelinestatus"),
    ("POST", "/pipelines/{pipeline_name}/approval"),
}
# What a body route may answer besides its route's own statuses: a body over MAX_BODY_BYTES is refused unread.
BODY_ROUTE_ERRORS = (BodyTooLarge.http_status,)


@cache
def service() -> OrchestratorService:
    return OrchestratorService(Settings.from_env())


def handle_api(event: dict[str, Any], svc: OrchestratorService) -> dict[str, Any]:
    key = (event.get("httpMethod", ""), event.get("resource") or event.get("path", ""))
    try:
        caller = from_api_event(event)
        if caller is None:
            # IAM authorization gives every API request an identity: this event was made by hand and invoked the
            # function directly, past the API. It is refused, and said in the log for whoever watches it.
            logger.warning("refused an API event without a caller identity: %s %s", key[0], key[1])
            raise Forbidden(
                "Requests are served through the orchestrator's API (IAM authorization names the caller); "
                "this event carries no requestContext.identity.userArn and was refused."
            )
        route = ROUTES.get(key)
        if route is None:
            paths = ", ".join(sorted({f"{m} {p}" for m, p in ROUTES}))
            raise NotFound(f"Unacceptable event path {key[0]} {key[1]}. Routes: {paths}")
        return responses.ok(route(svc, event, caller), ROUTE_STATUS.get(key, 200))
    except Exception as exc:  # the single error mapper decides the status; nothing escapes as a 502
        return responses.error(exc, svc.settings.detailed_errors)


def handle(event: Any, svc: OrchestratorService) -> Any:
    refill_retry_budgets()  # each request (or event) starts with the SDK's full retry budget
    if isinstance(event, dict) and "httpMethod" in event:
        return handle_api(event, svc)
    if isinstance(event, dict) and event.get("source") == "aws.codecommit":
        return svc.on_codecommit_push(event)
    if isinstance(event, dict) and "CodePipeline.job" in event:
        return svc.on_pipeline_job(event["CodePipeline.job"])
    if isinstance(event, dict) and event.get("source") == "aws.cloudformation":
        return svc.on_stack_event(event)
    if isinstance(event, dict) and event.get("source") == "aws.codepipeline":
        return svc.on_pipeline_event(event)
    if (
        isinstance(event, dict)
        and event.get("detail-type") == "Scheduled Event"
        and event.get("source") == "aws.events"
    ):
        return svc.reconcile()
    if is_monitoring_event(event):
        return svc.on_monitoring_event(event)
    records = event.get("Records") if isinstance(event, dict) else None
    if records and records[0].get("eventSource") == "aws:s3":
        return svc.on_s3_upload(event)
    if isinstance(event, dict) and "pipeline_type" in event:
        # The predecessor's git pipeline invoked the function with the raw mlops-config.json: a request that names
        # no caller. Config files reach the orchestrator through its config sources, which name who sent them.
        logger.warning("refused a request invoking the function directly (pipeline_type %s)", event["pipeline_type"])
        return responses.error(
            Forbidden(
                "A request invoking the function directly names no caller and is refused: send it to the API "
                "(POST /provisionpipeline) or commit or upload it as mlops-config.json."
            ),
            svc.settings.detailed_errors,
        )
    return responses.error(
        BadRequest(
            "Bad request format. Expected an API Gateway request, an S3 or CodeCommit event, a CodePipeline job, "
            "or a pipeline request."
        ),
        svc.settings.detailed_errors,
    )


def handler(event: Any, context: Any) -> Any:
    return handle(event, service())
