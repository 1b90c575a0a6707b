# SPDX-License-Identifier: Apache-2.0
"""`mlops`: the command line of the orchestrator.

`validate` and `plan` work offline, without AWS credentials, on the same JSON as an API body or an
mlops-config.json file. Exit codes: 0 success, 1 failure, 2 invalid request or usage, 3 not found.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_NOT_FOUND = 0, 1, 2, 3


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
    from lambdas.pipeline_orchestration.validation import validate

    request = validate(_read_request(args.file), _settings(args))
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


def _add_mode_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="request JSON (API body or mlops-config.json); - reads standard input")
    parser.add_argument("--multi-account", action="store_true", help="plan for a multi-account orchestrator")
    parser.add_argument("--model-registry", action="store_true", help="the orchestrator uses the model registry")
    parser.add_argument("--region", default="us-east-1", help="region of the orchestrator (image URIs depend on it)")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    from lambdas.shared.errors import BadRequest

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BadRequest as error:
        return _invalid(args, error)
    except (OSError, ValueError) as error:
        print(f"error: cannot read request: {error}", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
