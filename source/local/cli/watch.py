# SPDX-License-Identifier: Apache-2.0
"""`--watch`: follow a pipeline's state until it ends or waits for an approval."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .answers import answer, api_client, state_exit_code, status_by_name
from .exits import EXIT_FAILED, EXIT_TRY_AGAIN, TRY_AGAIN_STATUSES
from .renderers import pipeline_outcome, render_state

WATCH_SECONDS = 2.0
HEARTBEAT_SECONDS = 15.0
MAX_BACKOFF_SECONDS = 30.0


def approval_hint(name: str, state: dict[str, Any]) -> str:
    stage = state.get("approval_stage") or "<stage>"
    return f"waiting for approval of {stage}: mlops approve {name} {stage} (or --reject)"


def pipeline_name(pipeline_id: str, state: dict[str, Any]) -> str:
    from lambdas.pipeline_orchestration.validation import WRAPPER_SUFFIX

    stack = str(state.get("stack_name") or pipeline_id.split(":stack/", 1)[-1].split("/", 1)[0])
    return stack.removesuffix(WRAPPER_SUFFIX)


def watch(args: argparse.Namespace, pipeline_id: str, superseded: str = "") -> int:
    """Follow the pipeline: a line on each change and a heartbeat while nothing changes, each with the time
    elapsed; ends when the pipeline has finished (ACTIVE, FAILED, ROLLED_BACK) or waits for an approval.
    The outcome of execution `superseded` (the one before an update) is not taken for the update's."""
    import time

    from lambdas.pipeline_orchestration.pipeline_state import UNKNOWN, WAITING_APPROVAL, has_finished

    client, last, started = api_client(args), "", time.monotonic()
    deadline, beat = started + args.timeout, started + HEARTBEAT_SECONDS
    backoff, outcome = WATCH_SECONDS, ""
    while time.monotonic() < deadline:
        response = status_by_name(client, pipeline_id)
        if response.status in TRY_AGAIN_STATUSES:  # AWS throttled or down: wait as asked, longer each time
            wait = min(response.retry_after or backoff, MAX_BACKOFF_SECONDS, max(0.0, deadline - time.monotonic()))
            print(f"[{time.monotonic() - started:5.0f} s] the API answered {response.status}: trying again in "
                  f"{wait:.0f} s", file=sys.stderr, flush=True)  # fmt: skip
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            time.sleep(wait)
            continue
        if not response.ok:
            return answer(args, response)
        backoff = WATCH_SECONDS
        body = response.body
        elapsed = time.monotonic() - started
        outcome = pipeline_outcome(body)
        stale = bool(superseded) and body.get("execution_id") == superseded
        if stale:  # the updated plan's execution has not started yet
            outcome = "PROVISIONING"
            line = f"PROVISIONING: waiting for the new plan's execution (the last one, {superseded}, is done)"
        else:
            line = render_state(body)
        if line != last:
            print(f"[{elapsed:5.0f} s] {line}", flush=True)
            last, beat = line, time.monotonic() + HEARTBEAT_SECONDS
        elif time.monotonic() >= beat:
            where = f" at stage {body['stage']}" if body.get("stage") and not stale else ""
            print(f"[{elapsed:5.0f} s] still {outcome}{where}", flush=True)
            beat = time.monotonic() + HEARTBEAT_SECONDS
        if outcome == WAITING_APPROVAL:
            print(approval_hint(pipeline_name(pipeline_id, body), body), flush=True)
            return state_exit_code(body)
        if has_finished(outcome):
            return state_exit_code(body)
        time.sleep(WATCH_SECONDS)
    if outcome in ("", UNKNOWN):  # never answered, or answered that a source of the state could not be read
        print(f"the state is not known after {args.timeout:.0f} s: try again", file=sys.stderr)
        return EXIT_TRY_AGAIN
    print(f"still running after {args.timeout:.0f} s", file=sys.stderr)
    return EXIT_FAILED


def execution_before(client: Any, request: Any) -> str:
    """The latest execution of the pipeline that a request would update, read before it is posted: the new plan
    starts another, and a watch must follow that one, not the one that had already finished."""
    if not isinstance(request, dict):
        return ""
    plan = client.call("POST", "/provisionpipeline", {**request, "dry_run": True})
    stacks = plan.body.get("stacks") if plan.ok and isinstance(plan.body, dict) else None
    if not stacks or stacks[0].get("action") != "update":
        return ""
    status = status_by_name(client, str(stacks[0]["stack_name"]))
    return str(status.body.get("execution_id") or "") if status.ok else ""
