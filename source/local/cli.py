# SPDX-License-Identifier: Apache-2.0
"""`mlops`: the command line of the orchestrator.

`validate` and `plan` work offline, without AWS credentials, on the same JSON as an API body or an
mlops-config.json file. The other commands call the API: local mode by default, or a deployed API Gateway
(`--endpoint`), whose requests are signed with SigV4 from the standard AWS credential chain.
`mlops local` runs the whole orchestrator on this machine.

Exit codes: 0 success, 1 failure, 2 invalid request or usage, 3 not found, 4 conflict.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT = 0, 1, 2, 3, 4
WATCH_SECONDS = 2.0


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
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    return json.loads(text)


def _print(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=False) if args.json else text)


def _invalid(args: argparse.Namespace, error) -> int:
    errors = [e.as_dict() for e in error.errors] or [{"field": "", "message": error.detail}]
    lines = [f"invalid request: {len(errors)} problem{'s' if len(errors) != 1 else ''}"]
    lines += [f"  {e['field'] or '(body)'}: {e['message']}" for e in errors]
    if args.json:
        print(json.dumps({"valid": False, "errors": errors}, indent=2))
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
    print(json.dumps(plan, indent=2))
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
            lines = [f"error {response.status}: {body.get('detailedMessage') or body.get('message', '')}"]
            lines += [f"  {e['field']}: {e['message']}" for e in body.get("errors", [])]
            print("\n".join(lines), file=sys.stderr)
        else:
            print(json.dumps(body, indent=2))
    else:
        print(text if text is not None else json.dumps(body, indent=2))
    return _exit_code(response.status)


def render_state(state: dict[str, Any]) -> str:
    """One line per pipeline state: each stage with its status, and what waits for approval."""
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
    return " | ".join(parts) or state.get("message", "")


def pipeline_outcome(state: dict[str, Any]) -> str:
    """Succeeded, Failed, Approval (waiting for a person) or InProgress."""
    stages = state.get("stageStates", [])
    statuses = [s.get("latestExecution", {}).get("status") for s in stages]
    if any(s == "Failed" for s in statuses):
        return "Failed"
    if any("approval" in render_state({"stageStates": [s]}) for s in stages):
        return "Approval"
    if stages and all(s == "Succeeded" for s in statuses):
        return "Succeeded"
    return "InProgress"


def _watch(args: argparse.Namespace, pipeline_id: str) -> int:
    import time

    client, last, deadline = _client(args), "", time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        response = client.call("POST", "/pipelinestatus", {"pipeline_id": pipeline_id})
        if not response.ok:
            return _answer(args, response)
        line = render_state(response.body)
        if line != last:
            print(line, flush=True)
            last = line
        outcome = pipeline_outcome(response.body)
        if outcome in ("Succeeded", "Failed", "Approval"):
            if outcome == "Approval":
                print("waiting for approval: mlops approve <pipeline name> <stage>")
            return EXIT_OK if outcome != "Failed" else EXIT_FAILED
        time.sleep(WATCH_SECONDS)
    print(f"still running after {args.timeout:.0f} s", file=sys.stderr)
    return EXIT_FAILED


def cmd_provision(args: argparse.Namespace) -> int:
    response = _client(args).call("POST", "/provisionpipeline", _read_request(args.file))
    body = response.body
    text = f"{body.get('message', '')}\npipeline_id: {body.get('pipeline_id', '')}"
    text += "".join(f"\nwarning: {w}" for w in body.get("warnings", []))  # unknown keys, ignored
    code = _answer(args, response, text)
    if code == EXIT_OK and args.watch and body.get("pipeline_id"):
        return _watch(args, body["pipeline_id"])
    return code


def cmd_status(args: argparse.Namespace) -> int:
    if args.watch:
        return _watch(args, args.pipeline_id)
    response = _client(args).call("POST", "/pipelinestatus", {"pipeline_id": args.pipeline_id})
    return _answer(args, response, render_state(response.body) if response.ok else None)


def cmd_list(args: argparse.Namespace) -> int:
    query = {"pipeline_type": args.type, "state": args.state, "next_token": args.next_token}
    response = _client(args).call("GET", "/pipelines", query=query)
    rows = response.body.get("pipelines", []) if response.ok else []
    text = "\n".join(f"{p.get('pipeline_name', '')}  {p.get('pipeline_type', '')}  {p.get('state', '')}" for p in rows)
    if response.ok and response.body.get("next_token"):
        text += f"\nmore: --next-token {response.body['next_token']}"
    return _answer(args, response, text or "no pipelines")


def cmd_describe(args: argparse.Namespace) -> int:
    return _answer(args, _client(args).call("GET", f"/pipelines/{args.name}"))


def cmd_delete(args: argparse.Namespace) -> int:
    return _answer(args, _client(args).call("DELETE", f"/pipelines/{args.name}"))


def cmd_approve(args: argparse.Namespace) -> int:
    body = {"stage": args.stage, "approved": not args.reject, "comment": args.comment}
    response = _client(args).call("POST", f"/pipelines/{args.name}/approval", body)
    return _answer(args, response, response.body.get("message") if response.ok else None)


def cmd_local(args: argparse.Namespace) -> int:
    from local.session import DEFAULT_TEMPLATES, LocalOrchestrator

    orchestrator = LocalOrchestrator(
        templates=Path(args.templates) if args.templates else DEFAULT_TEMPLATES,
        multi_account=args.multi_account,
        model_registry=args.model_registry,
        port=args.port,
        git_repository=Path(args.git_repo).resolve() if args.git_repo else None,
    )
    url = orchestrator.start()
    if args.demo:
        from local.demo import run_demo

        if not run_demo(orchestrator):
            print("the sample pipeline did not reach an endpoint in service", file=sys.stderr, flush=True)
    print(
        f"mlops local: the orchestrator API is on {url} (AWS emulator on {orchestrator.emulator.endpoint}). "
        f"Call it with `mlops list --endpoint {url}` (list, status, describe, delete, approve, provision) "
        f"or `curl {url}/pipelines`. Press Ctrl-C to stop.",
        flush=True,
    )
    try:
        import threading

        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        orchestrator.stop()
    return EXIT_OK


def _add_api_options(parser: argparse.ArgumentParser) -> None:
    from local.api_client import DEFAULT_ENDPOINT

    parser.add_argument(
        "--endpoint", default=os.environ.get("MLOPS_ENDPOINT", DEFAULT_ENDPOINT), help="API URL (default: local mode)"
    )
    parser.add_argument("--profile", help="AWS profile for signing requests to a deployed API")
    parser.add_argument("--aws-region", help="region of a deployed API (default: from the profile or URL)")
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
    parser = argparse.ArgumentParser(prog="mlops", description="MLOps orchestrator for Amazon SageMaker")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
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
        ("delete", cmd_delete, "tear a pipeline down (user data is kept)"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("name", help="pipeline name, e.g. mlops-pipeline-churn-byompipelinerealtimebuiltin")
        sub.set_defaults(run=run)
    approve = commands.add_parser("approve", help="approve (or --reject) a pipeline's pending stage")
    approve.add_argument("name", help="pipeline name")
    approve.add_argument("stage", help="the stage waiting for approval: staging or prod")
    approve.add_argument("--reject", action="store_true", help="reject instead of approve")
    approve.add_argument("--comment", default="", help="a note kept with the decision")
    approve.set_defaults(run=cmd_approve)
    for sub in (provision, status, listing, approve, *(commands.choices[n] for n in ("describe", "delete"))):
        _add_api_options(sub)

    local = commands.add_parser("local", help="run the orchestrator on this machine (emulated AWS)")
    local.add_argument("--port", type=int, default=8080, help="port of the local API on 127.0.0.1")
    local.add_argument("--multi-account", action="store_true", help="emulate an Organization with dev/staging/prod")
    local.add_argument("--model-registry", action="store_true", help="use the model registry")
    local.add_argument("--templates", help="built templates (default: deployment/regional-s3-assets)")
    local.add_argument("--git-repo", help="a local git repository standing in for CodeCommit (created if missing)")
    local.add_argument("--demo", action="store_true", help="provision and run a sample real-time pipeline first")
    local.set_defaults(run=cmd_local)
    return parser


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
    from lambdas.shared.errors import BadRequest

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BadRequest as error:
        return _invalid(args, error)
    except BrokenPipeError as error:
        if _output_closed():  # the reader of the output went away (`mlops list | head -1`): nothing to say
            return EXIT_OK
        print(f"error: cannot reach the API at {getattr(args, 'endpoint', '')}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        print(f"error: cannot reach the API at {getattr(args, 'endpoint', '')}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, ValueError) as error:
        print(f"error: cannot read request: {error}", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
