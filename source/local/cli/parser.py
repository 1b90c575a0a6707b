# SPDX-License-Identifier: Apache-2.0
"""The argument parser: every command, its options and its help."""

from __future__ import annotations

import argparse
import os

from .commands import (
    cmd_approve,
    cmd_delete,
    cmd_describe,
    cmd_history,
    cmd_list,
    cmd_logs,
    cmd_notifications,
    cmd_plan,
    cmd_provision,
    cmd_retry,
    cmd_rollback,
    cmd_run_monitoring,
    cmd_simulate_violation,
    cmd_status,
    cmd_upload,
    cmd_validate,
)
from .exits import EXIT_CODES_HELP
from .process import DEFAULT_STATE_DIR, cmd_acceptance, cmd_local
from .watch import WATCH_SECONDS


def _add_api_options(parser: argparse.ArgumentParser) -> None:
    from local.api_client import DEFAULT_ENDPOINT

    parser.add_argument(
        "--endpoint",
        default=os.environ.get("MLOPS_ENDPOINT"),  # neither: the CLI finds a running local mode (find_local_endpoint)
        help=f"API URL (default: $MLOPS_ENDPOINT, else local mode at {DEFAULT_ENDPOINT}, else the one running with "
        "the state directory $MLOPS_STATE_DIR or ~/.mlops/local)",
    )
    parser.set_defaults(find_endpoint=True)
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
    listing.add_argument("--owner", help="only pipelines this principal ARN (or team) owns")
    listing.add_argument("--next-token", help="the next page")
    listing.set_defaults(run=cmd_list)
    for name, run, text in (
        ("describe", cmd_describe, "request, plan, state and deployed resources of a pipeline"),
        ("delete", cmd_delete, "tear a pipeline down (user data is kept); asks first unless --yes"),
        ("rollback", cmd_rollback, "re-deploy the request of the last successful run before the current one"),
        ("retry", cmd_retry, "run the current request again: a new execution (after a failure or a rejection)"),
        ("logs", cmd_logs, "a pipeline's events: stage transitions, its functions' log lines, stack events"),
        ("history", cmd_history, "who did what to a pipeline: provisions, updates, approvals, rollbacks, deletes"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("name", help="pipeline name, e.g. mlops-pipeline-churn-byompipelinerealtimebuiltin")
        sub.set_defaults(run=run)
    commands.choices["delete"].add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    commands.choices["delete"].add_argument(
        "--stop-execution", action="store_true", help="stop the running execution first, then delete"
    )
    commands.choices["delete"].add_argument(
        "--timeout", type=float, default=600, help="seconds --stop-execution waits for the run to end"
    )
    for name in ("rollback", "retry"):
        commands.choices[name].add_argument("--watch", action="store_true", help="follow the execution it starts")
        commands.choices[name].add_argument("--timeout", type=float, default=3600, help="seconds --watch waits")
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
    approve.add_argument(
        "stage", help="what waits for approval: the stage staging or prod, or a teardown or rollback of the pipeline"
    )
    approve.add_argument("--reject", action="store_true", help="reject instead of approve")
    approve.add_argument("--comment", default="", help="a note kept with the decision")
    approve.set_defaults(run=cmd_approve)
    for sub in (provision, status, listing, approve, upload, *(commands.choices[n] for n in ("describe", "delete"))):
        _add_api_options(sub)
    for name in ("rollback", "retry", "logs", "history"):
        _add_api_options(commands.choices[name])

    local = commands.add_parser("local", help="run the orchestrator on this machine (emulated AWS)")
    local.add_argument("--port", type=int, default=8080, help="port of the local API on 127.0.0.1")
    local.add_argument("--multi-account", action="store_true", help="emulate an Organization with dev/staging/prod")
    local.add_argument("--model-registry", action="store_true", help="use the model registry")
    local.add_argument(
        "--monitoring-engine",
        choices=("open", "model-monitor"),
        default="open",
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
    local.add_argument(
        "--admin",
        action="append",
        metavar="ARN",
        help="a principal that may change any owner's pipeline (repeatable), as the stack parameter AdminPrincipalArns",
    )
    local.add_argument(
        "--allow-self-approval",
        action="store_true",
        help="let the principal who asked approve it too, as the stack parameter AllowSelfApproval=Yes",
    )
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

    local_commands = local.add_subparsers(
        dest="local_command", metavar="{run-monitoring,simulate-violation,notifications}"
    )
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
    run_monitoring = local_commands.add_parser(
        "run-monitoring", help="run a monitor's next execution now on the capture written so far"
    )
    run_monitoring.add_argument("name", help="the monitor pipeline's name")
    run_monitoring.set_defaults(run=cmd_run_monitoring)
    notifications = local_commands.add_parser("notifications", help="what the orchestrator published to SNS")
    notifications.set_defaults(run=cmd_notifications)
    for sub in (simulate, run_monitoring, notifications):
        _add_api_options(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlops-orchestrator")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "(not installed)"
