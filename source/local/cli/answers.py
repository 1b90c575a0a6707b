# SPDX-License-Identifier: Apache-2.0
"""How a command reads its request and turns the API's answer into output and an exit code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .exits import (
    EXIT_CONFLICT,
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_MONITOR_ALERT,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_TRY_AGAIN,
    TRY_AGAIN_STATUSES,
)
from .renderers import error_text, pipeline_outcome, render


class RequestUnreadable(Exception):
    """The request file cannot be read or is not JSON."""


def offline_settings(args: argparse.Namespace):
    from lambdas.pipeline_orchestration.settings import STAGES, Settings, StageTarget

    targets = None
    if args.multi_account:
        # Placeholder targets: offline plans show where each stage's account id goes.
        targets = {stage: StageTarget(f"<{stage}-account-id>", f"<{stage}-org-unit-id>") for stage in STAGES}
    return Settings(
        region=args.region,
        account_id="<orchestrator-account-id>",
        assets_bucket="<assets-bucket>",
        blueprint_bucket="<blueprints-bucket>",
        artifact_bucket="<pipeline-artifacts-bucket>",
        ecr_repo_arn=f"arn:aws:ecr:{args.region}:<orchestrator-account-id>:repository/<ecr-repository>",
        sns_topic_arn=f"arn:aws:sns:{args.region}:<orchestrator-account-id>:<notifications-topic>",
        multi_account=args.multi_account,
        model_registry=args.model_registry,
        strict_validation=getattr(args, "strict", False),
        stage_targets=targets,
    )


def read_request(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, ValueError) as error:
        raise RequestUnreadable(str(error)) from error


def print_answer(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=False) if args.json else text)


def print_invalid(args: argparse.Namespace, error) -> int:
    errors = [e.as_dict() for e in error.errors] or [{"field": "", "message": error.detail}]
    lines = [f"invalid request: {len(errors)} problem{'s' if len(errors) != 1 else ''}"]
    lines += [f"  {e['field'] or '(body)'}: {e['message']}" for e in errors]
    warnings = list(getattr(error, "warnings", []))
    lines += [f"warning: {w}" for w in warnings]
    if args.json:
        print(json.dumps({"valid": False, "errors": errors, "warnings": warnings}, indent=2))
    else:
        print("\n".join(lines), file=sys.stderr)
    return EXIT_INVALID


def api_client(args: argparse.Namespace):
    from local.api_client import ApiClient

    return ApiClient(args.endpoint, args.profile, args.aws_region)


def exit_code(status: int) -> int:
    if 200 <= status < 300:
        return EXIT_OK
    if status in TRY_AGAIN_STATUSES:
        return EXIT_TRY_AGAIN
    return {400: EXIT_INVALID, 404: EXIT_NOT_FOUND, 409: EXIT_CONFLICT}.get(status, EXIT_FAILED)


def answer(args: argparse.Namespace, response, text: str | None = None) -> int:
    body = response.body
    if args.json or not response.ok:
        if not response.ok and not args.json:
            print(error_text(response.status, body), file=sys.stderr)
        else:
            print(json.dumps(body, indent=2))
    else:
        print(text if text is not None else render(body))
    return exit_code(response.status)


def state_exit_code(state: dict[str, Any]) -> int:
    from lambdas.pipeline_orchestration.pipeline_state import MONITOR_ALERTS, UNKNOWN, UNSUCCESSFUL

    if pipeline_outcome(state) == UNKNOWN:
        return EXIT_TRY_AGAIN
    if pipeline_outcome(state) in MONITOR_ALERTS:
        return EXIT_MONITOR_ALERT
    return EXIT_FAILED if pipeline_outcome(state) in UNSUCCESSFUL else EXIT_OK


def status_by_name(client: Any, pipeline_id: str) -> Any:
    """/pipelinestatus for a pipeline_id, a stack name or a pipeline name (its wrapper stack is looked up)."""
    from lambdas.pipeline_orchestration.validation import WRAPPER_SUFFIX

    if not pipeline_id.startswith("arn:") and not pipeline_id.endswith(WRAPPER_SUFFIX):
        # A pipeline name: its wrapper stack holds the CodePipeline (the deployed stack has the bare name).
        wrapper = client.call("POST", "/pipelinestatus", {"pipeline_id": f"{pipeline_id}{WRAPPER_SUFFIX}"})
        if wrapper.status != 404:
            return wrapper
    return client.call("POST", "/pipelinestatus", {"pipeline_id": pipeline_id})


def local_only(args: argparse.Namespace, command: str) -> bool:
    from local.api_client import is_local

    if is_local(args.endpoint):
        return True
    print(f"error: `mlops local {command}` is served by local mode only, not by {args.endpoint}", file=sys.stderr)
    return False
