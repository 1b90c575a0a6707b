# SPDX-License-Identifier: Apache-2.0
"""The acceptance run's refusals (no confirmation, another account: moto's STS, no network), its cases (every
pipeline type, after what it needs) and its requests (valid for the orchestrator), without running it."""

from __future__ import annotations

import pytest
from moto import mock_aws

from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from lambdas.pipeline_orchestration.validation import validate
from local import acceptance
from local.api_client import ApiClient
from local.cli import main
from tests.unit.conftest import make_settings

API = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod"  # never called: every run here is refused


def test_a_real_account_run_without_the_confirmation_is_refused(capsys):
    assert main(["acceptance", "--endpoint", API, "--region", "us-east-1"]) == 2
    error = capsys.readouterr().err
    assert "--yes-this-is-a-real-account ACCOUNT_ID" in error
    assert "cost money" in error


def test_a_real_account_run_confirming_another_account_is_refused():
    with mock_aws():  # moto's STS answers 123456789012
        code = main(["acceptance", "--endpoint", API, "--region", "us-east-1", "--yes-this-is-a-real-account", "1"])
    assert code == 2


def test_the_refusal_names_both_accounts(capsys):
    with mock_aws():
        main(["acceptance", "--endpoint", API, "--yes-this-is-a-real-account", "111122223333"])
    error = capsys.readouterr().err
    assert "account 123456789012, not in 111122223333 as confirmed: nothing was created" in error


def test_a_confirmed_account_without_the_orchestrator_stack_creates_nothing():
    with mock_aws(), pytest.raises(Exception, match="mlops-orchestrator"):
        acceptance.real_target(API, "us-east-1", "123456789012")


def test_unknown_types_are_refused(capsys):
    assert main(["acceptance", "--types", "no_such_type"]) == 2
    assert "unknown pipeline type(s): no_such_type" in capsys.readouterr().err


def test_every_type_is_a_case_after_what_it_needs():
    selected = acceptance.cases()
    assert sorted(c.pipeline_type for c in selected) == sorted(CATALOGUE)
    seen: set[str] = set()
    for case in selected:
        assert set(case.after) <= seen, case
        seen.add(case.pipeline_type)
    assert len({c.short for c in selected}) == len(selected)


def test_a_subset_brings_what_it_needs():
    assert [c.pipeline_type for c in acceptance.cases(["byom_model_bias_monitor"])] == [
        "model_training_builtin",
        "byom_realtime_builtin",
        "byom_model_bias_monitor",
    ]


def _run(run_id: str = "abc123") -> acceptance.Run:
    target = acceptance.Target(
        api=ApiClient("http://127.0.0.1:9"),
        clients=lambda service: None,
        assets_bucket="mlops-assets-123456789012",
        ecr_repo_name="mlops-custom-algorithms",
        account_id="123456789012",
        region="us-east-1",
        local=False,
    )
    return acceptance.Run(target, run_id, acceptance.cases(), print)


@pytest.mark.parametrize("pipeline_type", sorted(CATALOGUE))
def test_each_request_is_valid_small_and_inside_the_runs_prefix(pipeline_type: str):
    run = _run()
    body = run.bodies[pipeline_type]
    request = validate(body, make_settings(assets_bucket="mlops-assets-123456789012"))
    assert not request.warnings
    assert "acc-abc123-" in run.outcomes[pipeline_type].name
    for key, value in body.items():
        if key.endswith(("_location", "_data", "_docker")) and value and key != "model_artifact_location":
            assert "acceptance/abc123/" in str(value), (key, value)
        if "instance" in key and isinstance(value, str) and value.startswith("ml."):
            assert value == acceptance.INSTANCE, key


def test_monitors_watch_the_runs_endpoint_and_the_data_quality_one_retrains_with_the_runs_training():
    run = _run()
    endpoint = run.bodies["byom_realtime_builtin"]["endpoint_name"]
    for name in ("byom_data_quality_monitor", "byom_model_bias_monitor"):
        assert run.bodies[name]["endpoint_name"] == endpoint
    assert run.bodies["byom_data_quality_monitor"]["retrain_pipeline_name"] == run.outcomes[acceptance.TRAINING].name
    image = run.bodies["byom_realtime_custom"]["custom_image_uri"]
    assert image == "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-custom-algorithms:acc-abc123-image"


def test_the_table_prices_what_ran_and_says_the_figures_are_approximate():
    run = _run()
    outcome = run.outcomes["byom_realtime_builtin"]
    outcome.passed, outcome.checked = True, ["pipeline ACTIVE"]
    outcome.billed = [acceptance.Billed("endpoint", "ml.m5.large", 1, 60.0)]
    failed = run.outcomes["byom_batch_builtin"]
    failed.reason = "FAILED: the transform job\nfailed"
    table = acceptance.Report("abc123", [outcome, failed], ["stack x: DELETE_FAILED"], 12.0).table()
    assert "endpoint ml.m5.large 60.0 min" in table and "~0.12" in table
    assert "FAIL: FAILED: the transform job failed" in table
    assert f"prices as of {acceptance.PRICES_AS_OF}, approximate" in table
    assert "teardown could not remove:\n  stack x: DELETE_FAILED" in table


def test_the_plan_names_every_pipeline_and_a_rough_cost():
    plan = acceptance.planned(run_id="abc123")
    assert "model_training_builtin: pipeline mlops-pipeline-acc-abc123-train-modeltraining" in plan
    assert plan.count(": pipeline mlops-pipeline-acc-abc123-") == len(CATALOGUE)
    assert "rough cost: ~" in plan and "approximate" in plan
