# SPDX-License-Identifier: Apache-2.0
"""`mlops validate` and `mlops plan` work offline on every example request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.cli import EXIT_INVALID, EXIT_OK, main
from tests.unit.conftest import EXAMPLES

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_every_example_validates(path, capsys):
    assert main(["validate", str(path)]) == EXIT_OK
    assert capsys.readouterr().out.startswith("valid ")


def test_multi_account_registry_example_validates_in_its_mode(capsys):
    path = EXAMPLES / "multi_account" / "byom_realtime_builtin_registry.json"
    assert main(["validate", str(path), "--multi-account", "--model-registry"]) == EXIT_OK
    assert main(["validate", str(path)]) == EXIT_INVALID
    assert "single-account" in capsys.readouterr().err


def test_validate_lists_every_error_and_exits_non_zero(tmp_path: Path, capsys):
    request = tmp_path / "bad.json"
    request.write_text(
        json.dumps({"pipeline_type": "byom_batch_custom", "model_name": "a_b", "inference_instance": "big"})
    )
    assert main(["validate", str(request)]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "model_name:" in err and "inference_instance:" in err and "custom_image_uri:" in err


def test_validate_says_the_ignored_keys_after_the_errors(tmp_path: Path, capsys):
    request = tmp_path / "bad.json"
    request.write_text(json.dumps({"pipeline_type": "byom_batch_custom", "model_name": "a_b", "modle_name": "x"}))
    assert main(["validate", str(request)]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "model_name:" in err
    assert "warning: modle_name is not a known field of byom_batch_custom" in err
    assert main(["validate", str(request), "--json"]) == EXIT_INVALID
    assert any("modle_name" in w for w in json.loads(capsys.readouterr().out)["warnings"])


def test_validate_json_output(tmp_path: Path, capsys):
    request = tmp_path / "bad.json"
    request.write_text(json.dumps({"pipeline_type": "byom_batch_custom"}))
    assert main(["validate", str(request), "--json"]) == EXIT_INVALID
    answer = json.loads(capsys.readouterr().out)
    assert answer["valid"] is False and {"field": "model_name", "message": "is required"} in answer["errors"]


def test_unreadable_or_non_json_file(tmp_path: Path, capsys):
    assert main(["validate", str(tmp_path / "missing.json")]) == EXIT_INVALID
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["plan", str(broken)]) == EXIT_INVALID
    assert "cannot read request" in capsys.readouterr().err


def test_plan_prints_stack_name_template_and_parameters(capsys):
    assert main(["plan", str(EXAMPLES / "byom_realtime_custom.json"), "--json"]) == EXIT_OK
    plan = json.loads(capsys.readouterr().out)
    assert plan["stack_name"] == "mlops-pipeline-fraud-sklearn-byompipelinerealtimecustom-codepipeline"
    assert plan["template"] == "byom_realtime_inference_pipeline.yaml"
    assert (
        plan["parameters"]["ImageUri"]
        == "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-custom-algorithms:sklearn-v4"
    )


def test_plan_multi_account_keys_parameters_by_stage(capsys):
    assert main(["plan", str(EXAMPLES / "byom_data_quality_monitor.json"), "--multi-account", "--json"]) == EXIT_OK
    plan = json.loads(capsys.readouterr().out)
    assert set(plan["parameters"]) == {"dev", "staging", "prod"}
    assert plan["parameters"]["dev"]["EndpointName"] == "churn-xgb-endpoint"


def test_plan_needs_no_credentials(monkeypatch, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    assert main(["plan", str(EXAMPLES / "model_tuner_builtin.json")]) == EXIT_OK


def test_model_card_operations_validate(tmp_path: Path, capsys):
    request = tmp_path / "card.json"
    request.write_text(json.dumps({"pipeline_type": "describe_model_card", "name": "churn-card"}))
    assert main(["validate", str(request)]) == EXIT_OK
    assert "valid describe_model_card request" in capsys.readouterr().out


def test_output_into_a_pipe_its_reader_closed_ends_quietly(monkeypatch, capfd):
    """`mlops plan FILE | head -1`: the reader leaves early; that is not an unreachable API, nor a traceback."""
    import os
    import sys

    read, write = os.pipe()
    os.close(read)
    monkeypatch.setattr(sys, "stdout", os.fdopen(write, "w", buffering=1))

    code = main(["plan", str(EXAMPLES / "byom_realtime_builtin.json")])

    assert code == EXIT_OK
    assert capfd.readouterr().err == ""


def test_the_multi_account_example_without_registry_validates_in_its_mode(capsys):
    path = EXAMPLES / "multi_account" / "byom_realtime_builtin.json"
    assert main(["validate", str(path), "--multi-account"]) == EXIT_OK
    registry = EXAMPLES / "multi_account" / "byom_realtime_builtin_registry.json"
    assert main(["validate", str(registry), "--multi-account"]) == EXIT_INVALID
    assert "--model-registry" in capsys.readouterr().err


def test_version_and_exit_codes_in_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("mlops ")
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "exit codes: 0 success, 1 failure" in out and "3 not found, 4 conflict" in out


def test_one_region_flag_everywhere_with_the_old_name_kept():
    from local.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["list", "--region", "eu-west-1"]).aws_region == "eu-west-1"
    assert parser.parse_args(["list", "--aws-region", "eu-west-1"]).aws_region == "eu-west-1"
    assert parser.parse_args(["plan", "x.json", "--region", "eu-west-1"]).region == "eu-west-1"


def test_the_endpoint_comes_from_mlops_endpoint(monkeypatch):
    from local.cli import build_parser

    monkeypatch.setenv("MLOPS_ENDPOINT", "http://127.0.0.1:9999")
    assert build_parser().parse_args(["list"]).endpoint == "http://127.0.0.1:9999"


def test_plan_is_human_unless_json(capsys):
    assert main(["plan", str(EXAMPLES / "byom_realtime_custom.json")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "stack_name: mlops-pipeline-fraud-sklearn-byompipelinerealtimecustom-codepipeline" in out
    assert "  ModelName: fraud-sklearn" in out and not out.startswith("{")


def test_an_error_answer_names_each_problem_once():
    from local.cli.renderers import error_text

    body = {
        "message": "A BadRequest exception occurred",
        "detailedMessage": "Bad request. 1 invalid field: model_name: must be short",
        "errors": [{"field": "model_name", "message": "must be short"}],
    }
    text = error_text(400, body)
    assert text.count("must be short") == 1 and "model_name: must be short" in text
    assert error_text(404, {"message": "A NotFound exception occurred", "detailedMessage": "No pipeline x."}) == (
        "error 404: No pipeline x."
    )


def test_an_unreachable_api_fails_with_exit_1(capsys):
    import socket

    from local.cli import EXIT_FAILED

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["list", "--endpoint", f"http://127.0.0.1:{port}"]) == EXIT_FAILED
    assert capsys.readouterr().err.count("cannot reach the API") == 1


def test_validate_warns_of_an_unknown_key_and_strict_refuses_it(tmp_path: Path, capsys):
    body = json.loads((EXAMPLES / "byom_realtime_builtin.json").read_text())
    request = tmp_path / "request.json"
    request.write_text(json.dumps({**body, "endpiont_name": "x"}))

    assert main(["validate", str(request)]) == EXIT_OK
    assert "warning: endpiont_name is not a known field of byom_realtime_builtin; did you mean 'endpoint_name'?" in (
        capsys.readouterr().out
    )
    assert main(["validate", str(request), "--strict"]) == EXIT_INVALID
    assert "endpiont_name: is not a known field" in capsys.readouterr().err


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_the_name_local_mode_gives_an_example_is_the_orchestrators(path):
    """The demo and the end-to-end tests find a pipeline by the name the validator gives it."""
    from lambdas.pipeline_orchestration.settings import Settings
    from lambdas.pipeline_orchestration.validation import validate
    from local.examples import pipeline_name

    body = json.loads(path.read_text())
    assert (
        pipeline_name(body) == validate(body, Settings(assets_bucket="assets", blueprint_bucket="blueprints")).base_name
    )


def test_local_with_the_connection_source_needs_a_repository(capsys):
    assert main(["local", "--in-memory", "--git-source", "connection"]) == EXIT_INVALID
    assert "--git-source connection needs --git-repo" in capsys.readouterr().err


def test_a_monitors_executions_print_as_a_table_with_their_violations():
    from local.cli.renderers import render_monitoring

    text = render_monitoring(
        {
            "schedule": "ep-dataquality-1a2b",
            "status": "Scheduled",
            "alarm": "mlops-pipeline-churn-byomdataqualitymonitor-violations",
            "violation_threshold": 2,
            "retrain_pipeline_name": "mlops-pipeline-churn-modeltraining",
            "executions": [
                {
                    "scheduled_time": "2026-12-01T15:00:00+00:00",
                    "status": "CompletedWithViolations",
                    "report": "s3://b/r/15",
                    "violations_count": 1,
                    "violations": [{"feature": "age", "check": "baseline_drift_check", "description": "drifted"}],
                },
                {"scheduled_time": "2026-12-01T14:00:00+00:00", "status": "Failed", "failure_reason": "no data"},
            ],
        }
    )
    lines = text.splitlines()
    assert lines[0] == (
        "monitoring: schedule ep-dataquality-1a2b is Scheduled; alarm "
        "mlops-pipeline-churn-byomdataqualitymonitor-violations at 2 violations; retrains "
        "mlops-pipeline-churn-modeltraining"
    )
    assert lines[1].split() == ["SCHEDULED", "STATUS", "VIOLATIONS", "REPORT", "OR", "FAILURE"]
    assert lines[2].split() == ["2026-12-01T15:00:00+00:00", "CompletedWithViolations", "1", "s3://b/r/15"]
    assert lines[3].split() == ["2026-12-01T14:00:00+00:00", "Failed", "-", "no", "data"]
    assert lines[4] == "  2026-12-01T15:00:00+00:00: age baseline_drift_check: drifted"


@pytest.mark.parametrize(("state", "code"), [("VIOLATIONS", 5), ("MONITORING_FAILED", 5), ("FAILED", 1), ("ACTIVE", 0)])
def test_status_exits_5_on_a_monitor_alert(state, code):
    from local.cli.answers import state_exit_code

    assert state_exit_code({"state": state}) == code


def _simulated(monkeypatch, executions: list[dict]) -> None:
    from local.api_client import ApiClient, ApiResponse

    body = {"pipeline_name": "m", "violations": 1, "violation_threshold": 1, "executions": executions}
    monkeypatch.setattr(ApiClient, "call", lambda self, *args, **kw: ApiResponse(200, body))


def _execution(account: str, status: str, reason: str = "") -> dict:
    found = {"account": account, "monitoring_schedule_name": "m-schedule", "status": status}
    return {**found, "failure_reason": reason} if reason else found


def test_simulate_violation_whose_executions_failed_says_no_alarm_fires_and_exits_5(monkeypatch, capsys):
    """A monitor written for one account, deployed to three, watches an endpoint that none of them has."""
    reason = "ValidationException: the monitored endpoint churn does not exist"
    _simulated(monkeypatch, [_execution(a, "Failed", reason) for a in ("111111111111", "222222222222", "3" * 12)])
    code = main(["local", "simulate-violation", "m", "--endpoint", "http://127.0.0.1:8080"])
    out = capsys.readouterr().out
    assert code == 5
    assert "alarm fires" not in out and "reports 1 violation" not in out
    assert (
        out.splitlines()[0] == "no execution completed, so none reported a violation: the monitor's alarm does not fire"
    )
    assert out.count(f"execution Failed: {reason}") == 3


def test_simulate_violation_says_in_how_many_accounts_the_alarm_fires(monkeypatch, capsys):
    _simulated(monkeypatch, [_execution("1" * 12, "CompletedWithViolations"), _execution("2" * 12, "Failed", "no")])
    code = main(["local", "simulate-violation", "m", "--endpoint", "http://127.0.0.1:8080"])
    out = capsys.readouterr().out
    assert code == 5
    assert out.splitlines()[0] == "reports 1 violation(s) in 1 of 2 accounts; the monitor alarms at 1 (its alarm fires)"


def test_simulate_violation_whose_executions_all_report_exits_0(monkeypatch, capsys):
    _simulated(monkeypatch, [_execution("1" * 12, "CompletedWithViolations")])
    assert main(["local", "simulate-violation", "m", "--endpoint", "http://127.0.0.1:8080"]) == EXIT_OK
    assert capsys.readouterr().out.startswith("reports 1 violation(s); the monitor alarms at 1 (its alarm fires)")


def test_the_help_names_exit_code_6_try_again(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "6 try again" in out and "502, 503 or 504" in out and "UNKNOWN" in out


@pytest.mark.parametrize(("status", "code"), [(502, 6), (503, 6), (504, 6), (500, 1), (409, 4)])
def test_an_answer_that_says_try_again_exits_6(status, code):
    from local.cli.answers import exit_code

    assert exit_code(status) == code


def test_an_unknown_state_exits_6():
    from local.cli.answers import state_exit_code

    assert state_exit_code({"state": "UNKNOWN", "reason": "cannot read the stack: Throttling"}) == 6


def test_a_watch_backs_off_while_aws_throttles_and_follows_to_the_end(monkeypatch, capsys):
    import argparse

    from local.api_client import ApiResponse
    from local.cli import watch

    answers = [ApiResponse(503, {"message": "Throttling"}, 0.01), ApiResponse(503, {}, None)]
    answers += [ApiResponse(200, {"state": "ACTIVE", "stageStates": []})]
    monkeypatch.setattr(watch, "status_by_name", lambda client, pipeline_id: answers.pop(0))
    monkeypatch.setattr(watch, "WATCH_SECONDS", 0.01)
    args = argparse.Namespace(endpoint="http://127.0.0.1:8080", profile=None, aws_region=None, timeout=10.0)
    assert watch.watch(args, "p") == EXIT_OK
    err = capsys.readouterr().err
    assert err.count("the API answered 503: trying again") == 2


def test_a_watch_that_only_hears_try_again_exits_6(monkeypatch, capsys):
    import argparse

    from local.api_client import ApiResponse
    from local.cli import watch

    monkeypatch.setattr(watch, "status_by_name", lambda client, pipeline_id: ApiResponse(502, {}, 0.05))
    args = argparse.Namespace(endpoint="http://127.0.0.1:8080", profile=None, aws_region=None, timeout=0.2)
    assert watch.watch(args, "p") == 6
    assert "the state is not known after" in capsys.readouterr().err


def test_a_not_found_answer_points_a_cli_user_to_mlops_list():
    from local.cli.renderers import error_text

    body = {
        "message": "A NotFound exception occurred",
        "detailedMessage": "No pipeline named x; GET /pipelines lists them.",
    }
    assert error_text(404, body) == "error 404: No pipeline named x; mlops list shows them."
