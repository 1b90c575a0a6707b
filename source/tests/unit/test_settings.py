# SPDX-License-Identifier: Apache-2.0
"""The orchestrator reads its deployment from the Lambda environment, with the predecessor's variable names."""

import pytest

from lambdas.pipeline_orchestration.settings import Settings


def test_single_account_environment():
    settings = Settings.from_env(
        {
            "REGION": "eu-west-1",
            "ASSETS_BUCKET": "assets",
            "BLUEPRINT_BUCKET": "blueprints",
            "CFN_ROLE_ARN": "arn:aws:iam::111122223333:role/cfn",
            "ECR_REPO_ARN": "arn:aws:ecr:eu-west-1:111122223333:repository/algos",
            "MLOPS_NOTIFICATIONS_SNS_TOPIC": "arn:aws:sns:eu-west-1:111122223333:topic",
            "USE_MODEL_REGISTRY": "Yes",
            "ALLOW_DETAILED_ERROR_MESSAGE": "No",
            "PIPELINE_INDEX_TABLE": "mlops-PipelineIndex-1A2B3C",
        }
    )
    assert (settings.region, settings.account_id, settings.model_registry, settings.detailed_errors) == (
        "eu-west-1",
        "111122223333",
        True,
        False,
    )
    assert not settings.multi_account and settings.stage_targets is None
    assert settings.index_table == "mlops-PipelineIndex-1A2B3C"


def test_multi_account_environment():
    env = {"IS_MULTI_ACCOUNT": "True", "IS_DELEGATED_ADMIN": "No"}
    for stage in ("DEV", "STAGING", "PROD"):
        env[f"{stage}_ACCOUNT_ID"] = f"{stage.lower()}-account"
        env[f"{stage}_ORG_ID"] = f"ou-{stage.lower()}"
    settings = Settings.from_env(env)
    assert settings.multi_account and not settings.delegated_admin
    assert settings.stage_targets["staging"].account_id == "staging-account"
    assert settings.stage_targets["prod"].org_unit_id == "ou-prod"


def test_strict_validation_is_off_unless_the_stack_turns_it_on():
    assert not Settings.from_env({}).strict_validation
    assert Settings.from_env({"STRICT_VALIDATION": "Yes"}).strict_validation


def test_the_monitoring_engine_is_the_stacks_parameter_in_the_requests_spelling():
    assert Settings.from_env({}).monitoring_engine == "open"  # a new stack's default
    assert Settings.from_env({"MONITORING_ENGINE": "ModelMonitor"}).monitoring_engine == "model_monitor"
    assert Settings.from_env({"MONITORING_ENGINE": "Open"}).monitoring_engine == "open"


def test_a_monitoring_engine_the_stack_would_refuse_fails_at_cold_start_with_the_engines():
    with pytest.raises(ValueError, match="MONITORING_ENGINE must be one of Open, ModelMonitor, not 'Clarify'"):
        Settings.from_env({"MONITORING_ENGINE": "Clarify"})
