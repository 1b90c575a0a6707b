# SPDX-License-Identifier: Apache-2.0
"""`mlops`: the command line of the orchestrator.

`validate` and `plan` work offline, without AWS credentials, on the same JSON as an API body or an
mlops-config.json file. The other commands call the API: local mode by default, or a deployed API Gateway
(`--endpoint`), whose requests are signed with SigV4 from the standard AWS credential chain.
`mlops local` runs the whole orchestrator on this machine.

Exit codes: 0 success, 1 failure (`status` and `--watch`: the pipeline is FAILED or ROLLED_BACK), 2 invalid
request or usage, 3 not found, 4 conflict.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import urllib.error
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_MONITOR_ALERT = 0, 1, 2, 3, 4, 5
WATCH_SECONDS = 2.0
EXIT_CODES_HELP = (
    "exit codes: 0 success, 1 failure (a FAILED pipeline, an unreachable API, a port in use), "
    "2 invalid request or usage, 3 not found, 4 conflict (for example a pipeline still running), "
    "5 a monitor whose latest execution found violations or failed (VIOLATIONS, MONITORING_FAILED)"
)
DEFAULT_STATE_DIR = Path.home() / ".mlops" / "local"


class RequestUnreadable(Exception):
    """The request file cannot be read or is not JSON."""


def _settings(args: argparse.Namespace):
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
        ecr_repo_arn=f"arn:aws:ecr:{args.region}:<orchestrator-account-id>:repository/<ecr-repository>",
        sns_topic_arn=f"arn:aws:sns:{args.region}:<orchestrator-account-id>:<notifications-topic>",
        multi_account=args.multi_account,
        model_registry=args.model_registry,
        strict_validation=getattr(args, "strict", False),
        stage_targets=targets,
    )


def _read_request(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, ValueError) as error:
        raise RequestUnreadable(str(error)) from error


def _print(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=False) if args.json else text)


def _invalid(args: argparse.Namespace, error) -> int:
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


def cmd_validate(args: argparse.Namespace) -> int:
    from lambdas.pipeline_orchestration.validation import ValidOperation, validate_request

    request = validate_request(_read_request(args.file), _settings(args))
    if isinstance(request, ValidOperation):
        _print(
            args,
            {"valid": True, "pipeline_type": request.operation.name, "warnings": list(request.warnings)},
            "\n".join([f"valid {request.operation.name} request", *(f"warning: {w}" for w in request.warnings)]),
        )
        return EXIT_OK
    lines = [f"valid {request.pipeline.name} request: {request.base_name}"]
    lines += [f"warning: {w}" for w in request.warnings]
    _print(
        args,
        {"valid": True, "pipeline_type": request.pipeline.name, "warnings": list(request.warnings)},
        "\n".join(lines),
    )
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from lambdas.pipeline_orchestration.planner import plan_pipeline
    from lambdas.pipeline_orchestration.validation import validate

    settings = _settings(args)
    request = validate(_read_request(args.file), settings)
    plan = plan_pipeline(request, settings).as_dict()
    if request.warnings:
        plan["warnings"] = list(request.warnings)
    _print(args, plan, render(plan))
    return EXIT_OK


def _client(args: argparse.Namespace):
    from local.api_client import ApiClient

    return ApiClient(args.endpoint, args.profile, args.aws_region)


def _exit_code(status: int) -> int:
    if 200 <= status < 300:
        return EXIT_OK
    return {400: EXIT_INVALID, 404: EXIT_NOT_FOUND, 409: EXIT_CONFLICT}.get(status, EXIT_FAILED)


def _answer(args: argparse.Namespace, response, text: str | None = None) -> int:
    body = response.body
    if args.json or not response.ok:
        if not response.ok and not args.json:
            print(error_text(response.status, body), file=sys.stderr)
        else:
            print(json.dumps(body, indent=2))
    else:
        print(text if text is not None else render(body))
    return _exit_code(response.status)


HEARTBEAT_SECONDS = 15.0


def render_state(state: dict[str, Any]) -> str:
    """The pipeline's state and reason, then one part per stage with its status and what waits for approval."""
    parts = []
    for stage in state.get("stageStates", []):
        status = stage.get("latestExecution", {}).get("status", "-")
        waiting = [
            a["actionName"]
            for a in stage.get("actionStates", [])
            if a.get("latestExecution", {}).get("token") and a["latestExecution"].get("status") == "InProgress"
        ]
        parts.append(
            f"{stage['stageName']}: {status}" + (f" (approval {', '.join(waiting)} waiting)" if waiting else "")
        )
    stages = " | ".join(parts) or state.get("message", "")
    if not state.get("state"):
        return stages
    head = state["state"] + (f": {state['reason']}" if state.get("reason") else "")
    return f"{head}\n  {stages}" if stages else head


def pipeline_outcome(state: dict[str, Any]) -> str:
    """The pipeline's state as /pipelinestatus derives it (PROVISIONING when it says none yet)."""
    return str(state.get("state") or "PROVISIONING")


def _state_exit_code(state: dict[str, Any]) -> int:
    from lambdas.pipeline_orchestration.pipeline_state import MONITOR_ALERTS, UNSUCCESSFUL

    if pipeline_outcome(state) in MONITOR_ALERTS:
        return EXIT_MONITOR_ALERT
    return EXIT_FAILED if pipeline_outcome(state) in UNSUCCESSFUL else EXIT_OK


def _approval_hint(name: str, state: dict[str, Any]) -> str:
    stage = state.get("approval_stage") or "<stage>"
    return f"waiting for approval of {stage}: mlops approve {name} {stage} (or --reject)"


def _pipeline_name(pipeline_id: str, state: dict[str, Any]) -> str:
    from lambdas.pipeline_orchestration.validation import WRAPPER_SUFFIX

    stack = str(state.get("stack_name") or pipeline_id.split(":stack/", 1)[-1].split("/", 1)[0])
    return stack.removesuffix(WRAPPER_SUFFIX)


def _watch(args: argparse.Namespace, pipeline_id: str, superseded: str = "") -> int:
    """Follow the pipeline: a line on each change and a heartbeat while nothing changes, each with the time
    elapsed; ends when the pipeline has finished (ACTIVE, FAILED, ROLLED_BACK) or waits for an approval.
    The outcome of execution `superseded` (the one before an update) is not taken for the update's."""
    import time

    from lambdas.pipeline_orchestration.pipeline_state import WAITING_APPROVAL, has_finished

    client, last, started = _client(args), "", time.monotonic()
    deadline, beat = started + args.timeout, started + HEARTBEAT_SECONDS
    while time.monotonic() < deadline:
        response = status_by_name(client, pipeline_id)
        if not response.ok:
            return _answer(args, response)
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
            print(_approval_hint(_pipeline_name(pipeline_id, body), body), flush=True)
            return _state_exit_code(body)
        if has_finished(outcome):
            return _state_exit_code(body)
        time.sleep(WATCH_SECONDS)
    print(f"still running after {args.timeout:.0f} s", file=sys.stderr)
    return EXIT_FAILED


def _execution_before(client: Any, request: Any) -> str:
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


def cmd_provision(args: argparse.Namespace) -> int:
    client, request = _client(args), _read_request(args.file)
    before = _execution_before(client, request) if args.watch else ""
    response = client.call("POST", "/provisionpipeline", request)
    body = response.body
    text = f"{body.get('message', '')}\npipeline_id: {body.get('pipeline_id', '')}"
    text += "".join(f"\nwarning: {w}" for w in body.get("warnings", []))  # unknown keys, ignored
    code = _answer(args, response, text)
    if code == EXIT_OK and args.watch and body.get("pipeline_id"):
        # An unchanged plan starts nothing: the current execution's outcome is the answer.
        unchanged = "No updates are to be performed" in str(body.get("message", ""))
        return _watch(args, body["pipeline_id"], superseded="" if unchanged else before)
    return code


def cmd_status(args: argparse.Namespace) -> int:
    if args.watch:
        return _watch(args, args.pipeline_id)
    response = status_by_name(_client(args), args.pipeline_id)
    code = _answer(args, response, render_state(response.body) if response.ok else None)
    if code == EXIT_OK and pipeline_outcome(response.body) == "WAITING_APPROVAL" and not args.json:
        print(_approval_hint(_pipeline_name(args.pipeline_id, response.body), response.body))
    return _state_exit_code(response.body) if code == EXIT_OK else code


def cmd_list(args: argparse.Namespace) -> int:
    query = {"pipeline_type": args.type, "state": args.state, "next_token": args.next_token}
    response = _client(args).call("GET", "/pipelines", query=query)
    rows = response.body.get("pipelines", []) if response.ok else []
    text = table(
        ["NAME", "TYPE", "STATE"], [[p.get(k, "") for k in ("pipeline_name", "pipeline_type", "state")] for p in rows]
    )
    if response.ok and response.body.get("next_token"):
        text += f"\nmore: --next-token {response.body['next_token']}"
    return _answer(args, response, text if rows else "no pipelines")


def cmd_describe(args: argparse.Namespace) -> int:
    response = _client(args).call("GET", f"/pipelines/{args.name}")
    if not response.ok or not isinstance(response.body.get("monitoring"), dict):
        return _answer(args, response)
    body = dict(response.body)
    section = body.pop("monitoring")
    return _answer(args, response, f"{render(body)}\n{render_monitoring(section)}")


def render_monitoring(section: dict[str, Any]) -> str:
    """A monitor's schedule, then its last executions as a table, each violation on a line below."""
    if "schedule" not in section:
        return f"monitoring: {section.get('message', '')}"
    head = f"monitoring: schedule {section['schedule']} is {section.get('status', 'UNKNOWN')}"
    head += f" ({section['error']})" if section.get("error") else ""
    head += f"; alarm {section.get('alarm')} at {section.get('violation_threshold')} violations"
    if section.get("retrain_pipeline_name"):
        head += f"; retrains {section['retrain_pipeline_name']}"
    executions = section.get("executions") or []
    if not executions:
        return f"{head}\n  no executions yet"
    rows = [
        [
            e.get("scheduled_time", ""),
            e.get("status", ""),
            e.get("violations_count", "-") if "violations_count" in e else "-",
            e.get("failure_reason") or e.get("report", ""),
        ]
        for e in executions
    ]
    lines = [head, table(["SCHEDULED", "STATUS", "VIOLATIONS", "REPORT OR FAILURE"], rows)]
    for e in executions:
        for v in e.get("violations", []):
            lines.append(f"  {e.get('scheduled_time', '')}: {v['feature']} {v['check']}: {v['description']}")
    return "\n".join(lines)


def cmd_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        refused = confirm_delete(args.name)
        if refused is not None:
            return refused
    return _answer(args, _client(args).call("DELETE", f"/pipelines/{args.name}"))


def cmd_approve(args: argparse.Namespace) -> int:
    body = {"stage": args.stage, "approved": not args.reject, "comment": args.comment}
    response = _client(args).call("POST", f"/pipelines/{args.name}/approval", body)
    return _answer(args, response, response.body.get("message") if response.ok else None)


def error_text(status: int, body: dict[str, Any]) -> str:
    """An error answer, each problem once: the field list when there is one, else the detailed message."""
    errors = body.get("errors") or []
    if errors:
        lines = [f"error {status}: {len(errors)} problem{'s' if len(errors) != 1 else ''}"]
        lines += [f"  {e.get('field') or '(body)'}: {e.get('message', '')}" for e in errors]
        return "\n".join(lines + [f"warning: {w}" for w in body.get("warnings", [])])
    return f"error {status}: {body.get('detailedMessage') or body.get('message', '')}"


def render(data: Any, indent: int = 0) -> str:
    """Human output of an answer: one `key: value` line per scalar, nested objects and lists indented."""
    pad = "  " * indent
    if isinstance(data, dict):
        lines = []
        for key, value in data.items():
            if isinstance(value, dict | list) and value:
                lines += [f"{pad}{key}:", render(value, indent + 1)]
            else:
                lines.append(f"{pad}{key}: {_scalar(value)}")
        return "\n".join(lines)
    if isinstance(data, list):
        lines = []
        for item in data:
            if isinstance(item, dict | list) and item:
                inner = render(item, indent + 1).lstrip()
                lines.append(f"{pad}- {inner}")
            else:
                lines.append(f"{pad}- {_scalar(item)}")
        return "\n".join(lines)
    return f"{pad}{_scalar(data)}"


def _scalar(value: Any) -> str:
    if value is None or value == "" or value == {} or value == []:
        return "-"
    return str(value)


def table(header: list[str], rows: list[list[Any]]) -> str:
    """Rows under a header, in columns as wide as their widest cell."""
    cells = [header, *[[_scalar(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


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


def status_by_name(client: Any, pipeline_id: str) -> Any:
    """/pipelinestatus for a pipeline_id, a stack name or a pipeline name (its wrapper stack is looked up)."""
    from lambdas.pipeline_orchestration.validation import WRAPPER_SUFFIX

    if not pipeline_id.startswith("arn:") and not pipeline_id.endswith(WRAPPER_SUFFIX):
        # A pipeline name: its wrapper stack holds the CodePipeline (the deployed stack has the bare name).
        wrapper = client.call("POST", "/pipelinestatus", {"pipeline_id": f"{pipeline_id}{WRAPPER_SUFFIX}"})
        if wrapper.status != 404:
            return wrapper
    return client.call("POST", "/pipelinestatus", {"pipeline_id": pipeline_id})


def cmd_rollback(args: argparse.Namespace) -> int:
    response = _client(args).call("POST", f"/pipelines/{args.name}/rollback", {})
    return _answer(args, response, response.body.get("message") if response.ok else None)


def cmd_logs(args: argparse.Namespace) -> int:
    """The events of one pipeline, oldest first; --follow keeps printing new ones until Ctrl-C."""
    import time

    from local.api_client import is_local

    from .pipeline_events import aws_events

    def fetch() -> tuple[int, list[dict[str, Any]]]:
        if is_local(args.endpoint):
            response = _client(args).call("GET", f"/pipelines/{args.name}/events", query={"stage": args.stage})
            if not response.ok:
                return _answer(args, response), []
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
    from local.api_client import is_local

    from .pipeline_events import aws_session

    path = Path(args.file)
    if not path.is_file():
        raise RequestUnreadable(f"no file {path}")
    endpoint_url, bucket = None, args.bucket
    if is_local(args.endpoint):
        response = _client(args).call("GET", "/local")
        if not response.ok:
            return _answer(args, response)
        endpoint_url, bucket = response.body["emulator_endpoint"], bucket or response.body["assets_bucket"]
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
    key = args.key.lstrip("/")
    session.client("s3", endpoint_url=endpoint_url).upload_file(str(path), bucket, key)
    answer = {"bucket": bucket, "key": key, "bytes": path.stat().st_size, "location": f"{bucket}/{key}"}
    _print(
        args,
        answer,
        f"uploaded {path} ({answer['bytes']} bytes) to s3://{bucket}/{key}\n"
        f'use it in a request as "{key}" (a key in the assets bucket) or "{bucket}/{key}" (bucket/prefix)',
    )
    return EXIT_OK


def cmd_local(args: argparse.Namespace) -> int:
    from local.emulator import Emulator
    from local.moto_version import MotoUnsuitable
    from local.persistence import StateUnusable
    from local.session import DEFAULT_TEMPLATES, LocalOrchestrator

    if args.git_source == "connection" and not args.git_repo:
        print("error: --git-source connection needs --git-repo, the repository it stands in for", file=sys.stderr)
        return EXIT_INVALID
    for port, flag in ((args.port, "--port"), (args.emulator_port, "--emulator-port")):
        if port and not port_is_free(port):
            print(
                f"error: port {port} on 127.0.0.1 is in use (another `mlops local`?): stop it or choose another "
                f"with {flag}",
                file=sys.stderr,
            )
            return EXIT_FAILED
    state_dir = None if args.in_memory else Path(args.state_dir).expanduser().resolve()
    log_file = quiet_terminal(state_dir)
    orchestrator = LocalOrchestrator(
        templates=Path(args.templates) if args.templates else DEFAULT_TEMPLATES,
        multi_account=args.multi_account,
        model_registry=args.model_registry,
        monitoring_engine=args.monitoring_engine.replace("-", "_"),
        port=args.port,
        git_repository=Path(args.git_repo).resolve() if args.git_repo else None,
        git_source=args.git_source,
        emulator=Emulator(port=args.emulator_port),
        state_dir=state_dir,
        reset=args.reset,
    )
    try:
        url = orchestrator.start()
    except StateUnusable as error:
        print(
            f"error: {error}: start with the options it was made with, or with --reset to start afresh", file=sys.stderr
        )
        return EXIT_FAILED
    except (FileNotFoundError, MotoUnsuitable) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    pipelines = len(orchestrator.runner.pipelines) if orchestrator.runner else 0
    if state_dir is None:
        kept = "state:    in memory (--in-memory): everything is lost when local mode stops"
    elif orchestrator.restored:
        plural = "s" if pipelines != 1 else ""
        kept = f"state:    {state_dir} (restored, {pipelines} pipeline{plural}; --reset forgets it)"
    else:
        kept = f"state:    {state_dir} (new; kept across restarts, --reset forgets it)"
    if args.json:  # one line a script can read: where everything is
        about = {**orchestrator.about(), "api": url, "log_file": str(log_file), "restored": orchestrator.restored}
        print(json.dumps(about), flush=True)
    else:
        print_start(orchestrator, url, kept, log_file)
    if args.demo:
        from local.demo import run_demo

        if not run_demo(orchestrator):
            print("the sample pipeline did not become ACTIVE: its state is above", file=sys.stderr, flush=True)
    if not args.json:
        print(
            f"Ready. Call it with `mlops list` (or --endpoint {url} / MLOPS_ENDPOINT), `mlops upload FILE KEY`, "
            f"`mlops provision FILE --watch`, or `curl {url}/pipelines`; what it notifies: "
            "`mlops local notifications`. Press Ctrl-C to stop.",
            flush=True,
        )
    try:
        import signal
        import threading

        signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops local mode as Ctrl-C does: the state is kept
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping" + (f"; state kept in {state_dir}" if state_dir else ""), flush=True)
    finally:
        orchestrator.stop()
    return EXIT_OK


def cmd_acceptance(args: argparse.Namespace) -> int:
    """One pipeline of every type, provisioned, checked and torn down: in local mode, or on a confirmed real
    account (a deployed API); a table of the outcomes; 0 only if every type passed and nothing was left."""
    from local import acceptance
    from local.api_client import _region_from_url

    types = [t.strip() for t in (args.types or "").split(",") if t.strip()] or None

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        acceptance.cases(types)
        if args.endpoint:
            region = args.aws_region or _region_from_url(args.endpoint)
            if not region:
                raise acceptance.Refused("name the API's region (--region)")
            target = acceptance.real_target(
                args.endpoint,
                region,
                args.yes_this_is_a_real_account,
                args.profile,
                args.stack,
                args.assets_bucket,
                args.ecr_repo,
            )
            run_id = acceptance.new_run_id()
            say(
                f"acceptance run {run_id} in account {target.account_id}, region {region}, through {args.endpoint}; "
                f"it creates (and deletes at the end):\n{acceptance.planned(types, run_id)}"
            )
            report = acceptance.run_acceptance(target, types, run_id, say)
        else:
            from local.session import DEFAULT_TEMPLATES

            log_file = quiet_terminal(None)
            say(f"acceptance run in local mode (state in memory; log: {log_file})")
            report = acceptance.run_local(Path(args.templates) if args.templates else DEFAULT_TEMPLATES, types, say)
    except (acceptance.Refused, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(report.table(), flush=True)
    return EXIT_OK if report.passed else EXIT_FAILED


def _local_only(args: argparse.Namespace, command: str) -> bool:
    from local.api_client import is_local

    if is_local(args.endpoint):
        return True
    print(f"error: `mlops local {command}` is served by local mode only, not by {args.endpoint}", file=sys.stderr)
    return False


def cmd_simulate_violation(args: argparse.Namespace) -> int:
    """The next execution of a monitor's schedule runs now and reports a violation of its baseline."""
    if not _local_only(args, "simulate-violation"):
        return EXIT_INVALID
    body = {"violations": args.violations} if args.violations is not None else {}
    response = _client(args).call("POST", f"/local/pipelines/{args.name}/simulate-violation", body)
    if not response.ok:
        return _answer(args, response)
    count, threshold = response.body.get("violations", 1), response.body.get("violation_threshold", 1)
    alarm = "its alarm fires" if count >= threshold else "below the threshold: its alarm does not fire"
    lines = [f"reports {count} violation(s); the monitor alarms at {threshold} ({alarm})"]
    lines += [
        f"{e['monitoring_schedule_name']} (account {e['account']}): execution {e['status']}"
        + (f": {e['failure_reason']}" if e.get("failure_reason") else "")
        for e in response.body.get("executions", [])
    ]
    lines.append("the orchestrator's notifications: mlops local notifications")
    return _answer(args, response, "\n".join(lines))


def cmd_notifications(args: argparse.Namespace) -> int:
    """What the orchestrator published to its SNS topics in local mode, oldest first."""
    if not _local_only(args, "notifications"):
        return EXIT_INVALID
    response = _client(args).call("GET", "/local/notifications")
    if not response.ok or args.json:
        return _answer(args, response)
    found = response.body.get("notifications", [])
    lines = [
        f"{n['time'][:19].replace('T', ' ')} {n['subject']}\n"
        + "\n".join(f"  {line}" for line in n["message"].splitlines())
        for n in found
    ]
    return _answer(args, response, "\n".join(lines) if lines else "no notifications yet")


def print_start(orchestrator: Any, url: str, kept: str, log_file: Path) -> None:
    print(
        f"mlops local ({orchestrator.mode})\n"
        f"  API:      {url}\n"
        f"  emulator: {orchestrator.emulator.endpoint} (AWS APIs, any credentials; fixed with --emulator-port)\n"
        f"  {kept}\n"
        f"  log:      {log_file} (every component's lines; one pipeline's events: mlops logs <name>)",
        flush=True,
    )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def port_is_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is free
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def quiet_terminal(state_dir: Path | None) -> Path:
    """Every log line (ours, moto's, its warnings) goes to a log file; the terminal shows progress lines only."""
    import logging
    import tempfile

    folder = state_dir or Path(tempfile.mkdtemp(prefix="mlops-local-"))
    folder.mkdir(parents=True, exist_ok=True)
    log_file = folder / "local.log"
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    to_file = logging.FileHandler(log_file, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(to_file)
    root.setLevel(logging.INFO)
    to_terminal = logging.StreamHandler(sys.stdout)
    to_terminal.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    progress = logging.getLogger("mlops.progress")
    progress.setLevel(logging.INFO)
    progress.addHandler(to_terminal)
    logging.captureWarnings(True)  # moto's warnings (unsupported resource types) are log lines too
    return log_file


def _add_api_options(parser: argparse.ArgumentParser) -> None:
    from local.api_client import DEFAULT_ENDPOINT

    parser.add_argument(
        "--endpoint",
        default=os.environ.get("MLOPS_ENDPOINT", DEFAULT_ENDPOINT),
        help=f"API URL (default: $MLOPS_ENDPOINT, else local mode at {DEFAULT_ENDPOINT})",
    )
    parser.add_argument("--profile", help="AWS profile for signing requests to a deployed API")
    parser.add_argument(
        "--region",
        "--aws-region",
        dest="aws_region",
        help="region of a deployed API (default: from the URL or profile)",
    )
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")


def _add_mode_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="request JSON (API body or mlops-config.json); - reads standard input")
    parser.add_argument("--multi-account", action="store_true", help="plan for a multi-account orchestrator")
    parser.add_argument("--model-registry", action="store_true", help="the orchestrator uses the model registry")
    parser.add_argument("--region", default="us-east-1", help="region of the orchestrator (image URIs depend on it)")
    parser.add_argument(
        "--strict", action="store_true", help="refuse unknown keys, as an orchestrator deployed with StrictValidation"
    )
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops", description="MLOps orchestrator for Amazon SageMaker", epilog=EXIT_CODES_HELP
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    validate_parser = commands.add_parser("validate", help="check a request offline; lists every problem")
    _add_mode_options(validate_parser)
    validate_parser.set_defaults(run=cmd_validate)
    plan_parser = commands.add_parser("plan", help="print the plan (stacks, template, parameters) offline")
    _add_mode_options(plan_parser)
    plan_parser.set_defaults(run=cmd_plan)

    provision = commands.add_parser("provision", help="provision (or update) a pipeline from a request file")
    provision.add_argument("file", help="request JSON; - reads standard input")
    provision.add_argument("--watch", action="store_true", help="follow the pipeline stage by stage")
    provision.add_argument("--timeout", type=float, default=3600, help="seconds --watch waits at most")
    provision.set_defaults(run=cmd_provision)
    status = commands.add_parser("status", help="the pipeline's state and what it deployed")
    status.add_argument("pipeline_id", help="pipeline_id returned by provision (or the stack name)")
    status.add_argument("--watch", action="store_true", help="follow the pipeline until it ends or waits")
    status.add_argument("--timeout", type=float, default=3600, help="seconds --watch waits at most")
    status.set_defaults(run=cmd_status)
    listing = commands.add_parser("list", help="the pipelines this orchestrator manages")
    listing.add_argument("--type", help="only this pipeline_type")
    listing.add_argument("--state", help="only pipelines in this state")
    listing.add_argument("--next-token", help="the next page")
    listing.set_defaults(run=cmd_list)
    for name, run, text in (
        ("describe", cmd_describe, "request, plan, state and deployed resources of a pipeline"),
        ("delete", cmd_delete, "tear a pipeline down (user data is kept); asks first unless --yes"),
        ("rollback", cmd_rollback, "re-deploy the request of the last successful run before the current one"),
        ("logs", cmd_logs, "a pipeline's events: stage transitions, its functions' log lines, stack events"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("name", help="pipeline name, e.g. mlops-pipeline-churn-byompipelinerealtimebuiltin")
        sub.set_defaults(run=run)
    commands.choices["delete"].add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    logs = commands.choices["logs"]
    logs.add_argument("--stage", help="only this stage's events (a part of its name: dev, staging, prod, Source...)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new events until Ctrl-C")
    logs.add_argument("--interval", type=float, default=WATCH_SECONDS, help="seconds between polls with --follow")
    upload = commands.add_parser("upload", help="put a model or data file into the assets bucket")
    upload.add_argument("file", help="the local file")
    upload.add_argument("key", help="its key in the bucket, e.g. models/churn/model.tar.gz")
    upload.add_argument("--bucket", help="the bucket (default: local mode's assets bucket)")
    upload.add_argument("--stack", help="a deployed orchestrator's stack: its AssetsBucket output names the bucket")
    upload.set_defaults(run=cmd_upload)
    approve = commands.add_parser("approve", help="approve (or --reject) a pipeline's pending stage")
    approve.add_argument("name", help="pipeline name")
    approve.add_argument("stage", help="the stage waiting for approval: staging or prod")
    approve.add_argument("--reject", action="store_true", help="reject instead of approve")
    approve.add_argument("--comment", default="", help="a note kept with the decision")
    approve.set_defaults(run=cmd_approve)
    for sub in (provision, status, listing, approve, upload, *(commands.choices[n] for n in ("describe", "delete"))):
        _add_api_options(sub)
    for name in ("rollback", "logs"):
        _add_api_options(commands.choices[name])

    local = commands.add_parser("local", help="run the orchestrator on this machine (emulated AWS)")
    local.add_argument("--port", type=int, default=8080, help="port of the local API on 127.0.0.1")
    local.add_argument("--multi-account", action="store_true", help="emulate an Organization with dev/staging/prod")
    local.add_argument("--model-registry", action="store_true", help="use the model registry")
    local.add_argument(
        "--monitoring-engine",
        choices=("open", "model-monitor"),
        default="model-monitor",
        help="the engine of monitors whose request names none (the orchestrator stack's MonitoringEngine)",
    )
    local.add_argument("--templates", help="built templates (default: deployment/regional-s3-assets)")
    local.add_argument(
        "--git-repo", help="a local git repository standing in for the config repository (created if missing)"
    )
    local.add_argument(
        "--git-source",
        choices=("codecommit", "connection"),
        default="codecommit",
        help="what --git-repo stands in for: CodeCommit (default), or a GitHub, GitLab or Bitbucket repository "
        "behind a CodeConnections connection (the orchestrator stack's config-source pipeline runs on its main)",
    )
    local.add_argument("--demo", action="store_true", help="provision and run a sample real-time pipeline first")
    local.add_argument("--emulator-port", type=int, default=0, help="port of the AWS emulator (default: any free one)")
    local.add_argument(
        "--state-dir",
        default=os.environ.get("MLOPS_STATE_DIR", str(DEFAULT_STATE_DIR)),
        help=f"where pipelines and resources are kept across restarts ($MLOPS_STATE_DIR, else {DEFAULT_STATE_DIR})",
    )
    local.add_argument("--reset", action="store_true", help="forget the kept state and start from an empty AWS")
    local.add_argument("--in-memory", action="store_true", help="keep nothing on disk: state ends with the process")
    local.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the start as JSON")
    local.set_defaults(run=cmd_local)
    acceptance = commands.add_parser(
        "acceptance",
        help="one pipeline of every type, provisioned, checked and torn down (local mode, or a real account)",
        epilog="exit codes: 0 every type passed and teardown left nothing, 1 a type failed or something was left, "
        "2 refused (no confirmation, another account) or invalid options",
    )
    where = acceptance.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="in local mode, started in this process (the default)")
    where.add_argument("--endpoint", help="a deployed orchestrator's API URL: a run on a real account (it costs)")
    acceptance.add_argument("--region", "--aws-region", dest="aws_region", help="the deployed API's region")
    acceptance.add_argument("--profile", help="AWS profile of the real account")
    acceptance.add_argument(
        "--yes-this-is-a-real-account",
        metavar="ACCOUNT_ID",
        help="confirms a run with --endpoint: the account the credentials must act in",
    )
    acceptance.add_argument(
        "--stack",
        default="mlops-orchestrator",
        help="the orchestrator stack whose outputs name the bucket and repository",
    )
    acceptance.add_argument("--assets-bucket", help="the orchestrator's assets bucket (default: the stack's output)")
    acceptance.add_argument("--ecr-repo", help="the orchestrator's ECR repository (default: the stack's output)")
    acceptance.add_argument("--types", help="only these pipeline types (comma-separated) and what they need")
    acceptance.add_argument("--templates", help="local mode's built templates (default: deployment/regional-s3-assets)")
    acceptance.set_defaults(run=cmd_acceptance)

    local_commands = local.add_subparsers(dest="local_command", metavar="{simulate-violation,notifications}")
    simulate = local_commands.add_parser(
        "simulate-violation", help="run a monitor's next execution now, reporting a violation of its baseline"
    )
    simulate.add_argument("name", help="the monitor pipeline's name")
    simulate.add_argument(
        "--violations",
        type=int,
        help="how many violations the execution reports (default: the monitor's violation_threshold, so it alarms)",
    )
    simulate.set_defaults(run=cmd_simulate_violation)
    notifications = local_commands.add_parser("notifications", help="what the orchestrator published to SNS")
    notifications.set_defaults(run=cmd_notifications)
    for sub in (simulate, notifications):
        _add_api_options(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlops-orchestrator")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "(not installed)"


def _output_closed() -> bool:
    """Whether standard output is a pipe its reader has closed; if so, it is pointed at /dev/null, so that
    Python's own flush at exit does not complain again."""
    try:
        sys.stdout.flush()
        return False
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return True


def main(argv: list[str] | None = None) -> int:
    from botocore.exceptions import ClientError

    from lambdas.shared.errors import BadRequest

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BadRequest as error:
        return _invalid(args, error)
    except BrokenPipeError as error:
        # The reader of the output went away (`mlops list | head -1`): nothing to say. A print() fails in this
        # module's own frame; a broken connection to the API fails deeper, in the HTTP client.
        frames = traceback.extract_tb(error.__traceback__)
        if _output_closed() or (frames and frames[-1].filename == __file__):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        print(f"error: cannot reach the API at {getattr(args, 'endpoint', '')}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        print(f"error: cannot reach the API at {getattr(args, 'endpoint', '')}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except RequestUnreadable as error:
        print(f"error: cannot read request: {error}", file=sys.stderr)
        return EXIT_INVALID
    except (OSError, PermissionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except ClientError as error:  # a call to AWS made by the CLI itself (logs, upload)
        print(f"error: {error}", file=sys.stderr)
        return (
            EXIT_NOT_FOUND if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404 else EXIT_FAILED
        )


if __name__ == "__main__":
    sys.exit(main())
