# SPDX-License-Identifier: Apache-2.0
"""The commands: offline (validate, plan) and those that call the API."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .answers import (
    answer,
    api_client,
    local_only,
    offline_settings,
    print_answer,
    read_request,
    state_exit_code,
    status_by_name,
)
from .exits import EXIT_FAILED, EXIT_INVALID, EXIT_MONITOR_ALERT, EXIT_NOT_FOUND, EXIT_OK
from .renderers import pipeline_outcome, principal_text, render, render_monitoring, render_state, render_who, table
from .watch import WATCH_SECONDS, approval_hint, execution_before, pipeline_name, watch


def cmd_validate(args: argparse.Namespace) -> int:
    from lambdas.pipeline_orchestration.validation import ValidOperation, validate_request

    request = validate_request(read_request(args.file), offline_settings(args))
    if isinstance(request, ValidOperation):
        print_answer(
            args,
            {"valid": True, "pipeline_type": request.operation.name, "warnings": list(request.warnings)},
            "\n".join([f"valid {request.operation.name} request", *(f"warning: {w}" for w in request.warnings)]),
        )
        return EXIT_OK
    lines = [f"valid {request.pipeline.name} request: {request.base_name}"]
    lines += [f"warning: {w}" for w in request.warnings]
    print_answer(
        args,
        {"valid": True, "pipeline_type": request.pipeline.name, "warnings": list(request.warnings)},
        "\n".join(lines),
    )
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from lambdas.pipeline_orchestration.planner import plan_pipeline
    from lambdas.pipeline_orchestration.validation import validate

    settings = offline_settings(args)
    request = validate(read_request(args.file), settings)
    plan = plan_pipeline(request, settings).as_dict()
    if request.warnings:
        plan["warnings"] = list(request.warnings)
    print_answer(args, plan, render(plan))
    return EXIT_OK


def cmd_provision(args: argparse.Namespace) -> int:
    client, request = api_client(args), read_request(args.file)
    before = execution_before(client, request) if args.watch else ""
    response = client.call("POST", "/provisionpipeline", request)
    body = response.body
    text = f"{body.get('message', '')}\npipeline_id: {body.get('pipeline_id', '')}"
    text += "".join(f"\nwarning: {w}" for w in body.get("warnings", []))  # unknown keys, ignored
    code = answer(args, response, text)
    if code == EXIT_OK and args.watch and body.get("pipeline_id"):
        # An unchanged plan starts nothing: the current execution's outcome is the answer.
        unchanged = "No updates are to be performed" in str(body.get("message", ""))
        return watch(args, body["pipeline_id"], superseded="" if unchanged else before)
    return code


def cmd_status(args: argparse.Namespace) -> int:
    if args.watch:
        return watch(args, args.pipeline_id)
    response = status_by_name(api_client(args), args.pipeline_id)
    code = answer(args, response, render_state(response.body) if response.ok else None)
    if code == EXIT_OK and pipeline_outcome(response.body) == "WAITING_APPROVAL" and not args.json:
        print(approval_hint(pipeline_name(args.pipeline_id, response.body), response.body))
    return state_exit_code(response.body) if code == EXIT_OK else code


def cmd_list(args: argparse.Namespace) -> int:
    query = {"pipeline_type": args.type, "state": args.state, "owner": args.owner, "next_token": args.next_token}
    response = api_client(args).call("GET", "/pipelines", query=query)
    rows = response.body.get("pipelines", []) if response.ok else []
    text = table(
        ["NAME", "TYPE", "STATE"], [[p.get(k, "") for k in ("pipeline_name", "pipeline_type", "state")] for p in rows]
    )
    if response.ok and response.body.get("next_token"):
        text += f"\nmore: --next-token {response.body['next_token']}"
    return answer(args, response, text if rows else "no pipelines")


def cmd_describe(args: argparse.Namespace) -> int:
    response = api_client(args).call("GET", f"/pipelines/{args.name}")
    if not response.ok:
        return answer(args, response)
    body = dict(response.body)
    section = body.pop("monitoring", None)
    text = f"{render_who(body)}\n{render(body)}"
    if isinstance(section, dict):
        text += f"\n{render_monitoring(section)}"
    return answer(args, response, text)


def cmd_history(args: argparse.Namespace) -> int:
    response = api_client(args).call("GET", f"/pipelines/{args.name}/history")
    if not response.ok:
        return answer(args, response)
    rows = [
        [
            e.get("at", ""),
            e.get("action", "") + (f" {e['stage']}" if e.get("stage") else ""),
            principal_text(e.get("principal")),
            e.get("outcome", ""),
            (e.get("request_hash") or "")[:12],
        ]
        for e in response.body.get("history", [])
    ]
    text = table(["AT", "ACTION", "PRINCIPAL", "OUTCOME", "REQUEST"], rows) if rows else "no history"
    return answer(args, response, text)


def cmd_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        refused = confirm_delete(args.name)
        if refused is not None:
            return refused
    client = api_client(args)
    if not args.stop_execution:
        return answer(args, client.call("DELETE", f"/pipelines/{args.name}"))
    return stop_then_delete(args, client)


def stop_then_delete(args: argparse.Namespace, client: Any) -> int:
    """--stop-execution: stop the running execution (if any), then delete once nothing runs any more (a deploy
    under way finishes or fails on its own first), within --timeout seconds."""
    import time

    stopped = client.call("POST", f"/pipelines/{args.name}/stop", {})
    if stopped.ok:
        print(stopped.body.get("message", ""), file=sys.stderr if args.json else sys.stdout, flush=True)
    elif stopped.status != 409:  # 409: nothing in progress to stop; the delete says whether anything else runs
        return answer(args, stopped)
    deadline = time.monotonic() + args.timeout
    while True:
        response = client.call("DELETE", f"/pipelines/{args.name}")
        if response.status != 409 or time.monotonic() >= deadline:
            return answer(args, response)
        time.sleep(WATCH_SECONDS)


def confirm_delete(name: str) -> int | None:
    """Ask before a teardown; None when confirmed, else the exit code (no terminal to ask on: refused)."""
    if not sys.stdin.isatty():
        print(f"error: refusing to delete {name} without confirmation: pass --yes", file=sys.stderr)
        return EXIT_INVALID
    answer = input(f"Delete pipeline {name} and the stacks it deployed (your data is kept)? [y/N] ")
    if answer.strip().lower() in ("y", "yes"):
        return None
    print("not deleted", file=sys.stderr)
    return EXIT_FAILED


def cmd_approve(args: argparse.Namespace) -> int:
    body = {"stage": args.stage, "approved": not args.reject, "comment": args.comment}
    response = api_client(args).call("POST", f"/pipelines/{args.name}/approval", body)
    return answer(args, response, response.body.get("message") if response.ok else None)


def cmd_rollback(args: argparse.Namespace) -> int:
    return change_then_watch(args, "rollback")


def cmd_retry(args: argparse.Namespace) -> int:
    return change_then_watch(args, "retry")


def change_then_watch(args: argparse.Namespace, change: str) -> int:
    """POST /pipelines/{name}/<change>; with --watch, follow the execution the change starts (not the one before)."""
    client = api_client(args)
    before = ""
    if args.watch:
        status = status_by_name(client, args.name)
        before = str(status.body.get("execution_id") or "") if status.ok else ""
    response = client.call("POST", f"/pipelines/{args.name}/{change}", {})
    code = answer(args, response, response.body.get("message") if response.ok else None)
    if code == EXIT_OK and args.watch:
        return watch(args, str(response.body.get("pipeline_id") or args.name), superseded=before)
    return code


def cmd_logs(args: argparse.Namespace) -> int:
    """The events of one pipeline, oldest first; --follow keeps printing new ones until Ctrl-C."""
    import time

    from local.api_client import is_local
    from local.pipeline_events import aws_events

    def fetch() -> tuple[int, list[dict[str, Any]]]:
        if is_local(args.endpoint):
            response = api_client(args).call("GET", f"/pipelines/{args.name}/events", query={"stage": args.stage})
            if not response.ok:
                return answer(args, response), []
            return EXIT_OK, response.body.get("events", [])
        try:
            return EXIT_OK, aws_events(args.name, args.stage, args.profile, args.aws_region)
        except LookupError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_NOT_FOUND, []

    shown: set[tuple[str, str, str]] = set()
    try:
        while True:
            code, events = fetch()
            if code != EXIT_OK:
                return code
            for event in events:
                key = (event["time"], event["source"], event["message"])
                if key in shown:
                    continue
                shown.add(key)
                if args.json:
                    print(json.dumps(event), flush=True)
                else:
                    stage = f" [{event['stage']}]" if event.get("stage") else ""
                    print(
                        f"{event['time'][:19].replace('T', ' ')}{stage} {event['source']}: {event['message']}",
                        flush=True,
                    )
            if not args.follow:
                if not events and not args.json:
                    print(f"no events for {args.name} yet")
                return EXIT_OK
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return EXIT_OK


def cmd_upload(args: argparse.Namespace) -> int:
    """Put a file into the assets bucket: local mode's (found from its API), or a deployed orchestrator's."""
    from boto3.exceptions import S3UploadFailedError

    from local.api_client import is_local
    from local.pipeline_events import aws_session

    path = Path(args.file)
    if not path.is_file():
        print(f"error: cannot upload {path}: no such file", file=sys.stderr)
        return EXIT_INVALID
    endpoint_url, bucket, assets = None, args.bucket, None
    if is_local(args.endpoint):
        response = api_client(args).call("GET", "/local")
        if not response.ok:
            return answer(args, response)
        assets = response.body["assets_bucket"]
        endpoint_url, bucket = response.body["emulator_endpoint"], bucket or assets
        session = aws_session(None, "us-east-1", local=True)
    else:
        session = aws_session(args.profile, args.aws_region)
        if not bucket and args.stack:
            outputs = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
            bucket = next(
                (o["OutputValue"] for o in outputs.get("Outputs", []) if o["OutputKey"] == "AssetsBucket"), None
            )
        if not bucket:
            print("error: name the assets bucket (--bucket) or the orchestrator's stack (--stack)", file=sys.stderr)
            return EXIT_INVALID
        assets = bucket  # outside local mode --bucket names the assets bucket
    key = args.key.lstrip("/")
    try:
        session.client("s3", endpoint_url=endpoint_url).upload_file(str(path), bucket, key)
    except S3UploadFailedError as error:  # boto3's transfer wraps S3's answer (NoSuchBucket, AccessDenied)
        missing = "NoSuchBucket" in str(error)
        why = f"bucket {bucket} does not exist" if missing else str(error).split(": ", 1)[-1]
        print(f"error: cannot upload {path} to s3://{bucket}/{key}: {why}", file=sys.stderr)
        return EXIT_NOT_FOUND if missing else EXIT_FAILED
    uploaded = {"bucket": bucket, "key": key, "bytes": path.stat().st_size, "location": f"{bucket}/{key}"}
    # A bare key names an object of the assets bucket; any other bucket is named with its key.
    where = f'"{key}" (a key in the assets bucket) or ' if bucket == assets else ""
    print_answer(
        args,
        uploaded,
        f"uploaded {path} ({uploaded['bytes']} bytes) to s3://{bucket}/{key}\n"
        f'use it in a request as {where}"{bucket}/{key}" (bucket/prefix)',
    )
    return EXIT_OK


def cmd_simulate_violation(args: argparse.Namespace) -> int:
    """The next execution of a monitor's schedule runs now and reports a violation of its baseline."""
    if not local_only(args, "simulate-violation"):
        return EXIT_INVALID
    body = {"violations": args.violations} if args.violations is not None else {}
    response = api_client(args).call("POST", f"/local/pipelines/{args.name}/simulate-violation", body)
    if not response.ok:
        return answer(args, response)
    count, threshold = response.body.get("violations", 1), response.body.get("violation_threshold", 1)
    executions = response.body.get("executions", [])
    reported = [e for e in executions if e["status"] in ("Completed", "CompletedWithViolations")]
    failed = [e for e in executions if e["status"] == "Failed"]
    # Only an execution that completed reports violations (and emits the metric the alarm watches).
    if not reported:
        lines = ["no execution completed, so none reported a violation: the monitor's alarm does not fire"]
    else:
        alarm = "its alarm fires" if count >= threshold else "below the threshold: its alarm does not fire"
        where = f" in {len(reported)} of {len(executions)} accounts" if len(reported) < len(executions) else ""
        lines = [f"reports {count} violation(s){where}; the monitor alarms at {threshold} ({alarm})"]
    lines += [
        f"{e['monitoring_schedule_name']} (account {e['account']}): execution {e['status']}"
        + (f": {e['failure_reason']}" if e.get("failure_reason") else "")
        for e in executions
    ]
    if len(reported) + len(failed) < len(executions):
        lines.append(f"an execution has not finished yet: mlops status {args.name} follows it")
    lines.append("the orchestrator's notifications: mlops local notifications")
    code = EXIT_MONITOR_ALERT if failed else EXIT_OK if len(reported) == len(executions) else EXIT_FAILED
    answer(args, response, "\n".join(lines))
    return code


def cmd_run_monitoring(args: argparse.Namespace) -> int:
    """A monitor's next execution runs now on the capture written so far; its status and violations."""
    if not local_only(args, "run-monitoring"):
        return EXIT_INVALID
    response = api_client(args).call("POST", f"/local/pipelines/{args.name}/run-monitoring", {})
    if not response.ok:
        return answer(args, response)
    executions = response.body.get("executions", [])
    lines = []
    for e in executions:
        reason = f": {e['failure_reason']}" if e.get("failure_reason") else ""
        lines.append(f"{e['monitoring_schedule_name']} (account {e['account']}): execution {e['status']}{reason}")
        lines += [
            f"  {v.get('feature_name', '')}: {v.get('constraint_check_type', '')}: {v.get('description', '')}"
            for v in e.get("violations", [])
        ]
        if e.get("report"):
            lines.append(f"  reports: {e['report']}")
    alerting = [e for e in executions if e["status"] in ("Failed", "CompletedWithViolations")]
    pending = [e for e in executions if e["status"] not in ("Failed", "Completed", "CompletedWithViolations")]
    if pending:
        lines.append(f"an execution has not finished yet: mlops status {args.name} follows it")
    lines.append("the orchestrator's notifications: mlops local notifications")
    code = EXIT_MONITOR_ALERT if alerting else EXIT_FAILED if pending else EXIT_OK
    answer(args, response, "\n".join(lines))
    return code


def cmd_notifications(args: argparse.Namespace) -> int:
    """What the orchestrator published to its SNS topics in local mode, oldest first."""
    if not local_only(args, "notifications"):
        return EXIT_INVALID
    response = api_client(args).call("GET", "/local/notifications")
    if not response.ok or args.json:
        return answer(args, response)
    found = response.body.get("notifications", [])
    lines = [
        f"{n['time'][:19].replace('T', ' ')} {n['subject']}\n"
        + "\n".join(f"  {line}" for line in n["message"].splitlines())
        for n in found
    ]
    return answer(args, response, "\n".join(lines) if lines else "no notifications yet")
