# SPDX-License-Identifier: Apache-2.0
"""/pipelinestatus: the CodePipeline state and what the pipeline really deployed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest

from lambdas.pipeline_orchestration.adapters import Aws, Pipelines, Stacks
from lambdas.pipeline_orchestration.service import OrchestratorService
from lambdas.pipeline_orchestration.status import NOT_YET, stackset_name
from lambdas.shared.errors import NotFound, ValidationFailed
from tests.unit.conftest import ACCOUNT, example, make_settings, stand_in_template

PIPELINE_NAME = "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin"


class FakePipelines(Pipelines):
    """moto stores pipelines but implements no GetPipelineState: answer in its shape."""

    def state(self, name):
        stage = lambda stage_name, status: {  # noqa: E731
            "stageName": stage_name,
            "actionStates": [{"actionName": stage_name, "latestExecution": {"status": status}}],
            "latestExecution": {"pipelineExecutionId": "e-1", "status": status},
        }
        return {
            "pipelineName": name,
            "pipelineVersion": 1,
            "stageStates": [stage("Source", "Succeeded"), stage("DeployCloudFormation", "InProgress")],
            "created": datetime(2026, 1, 1, tzinfo=UTC),
            "updated": datetime(2026, 1, 2, tzinfo=UTC),
        }


class StacksWithPipeline(Stacks):
    """moto's CloudFormation cannot create AWS::CodePipeline::Pipeline; report the one made directly."""

    def resources(self, name_or_id):
        listed = super().resources(name_or_id)
        return [
            *listed,
            {
                "ResourceType": "AWS::CodePipeline::Pipeline",
                "PhysicalResourceId": PIPELINE_NAME,
                "LogicalResourceId": "Pipeline",
            },
        ]


@pytest.fixture
def provisioned(aws_scene):
    service = OrchestratorService(make_settings(), Aws(stacks=StacksWithPipeline(), pipelines=FakePipelines()))
    answer = service.provision(example("byom_realtime_builtin"))
    return service, answer["pipeline_id"]


def test_status_shows_the_pipeline_state_and_the_blueprint_stack(provisioned):
    service, pipeline_id = provisioned
    answer = service.status({"pipeline_id": pipeline_id})
    assert answer["pipelineName"] == PIPELINE_NAME
    assert [s["stageName"] for s in answer["stageStates"]] == ["Source", "DeployCloudFormation"]
    assert answer["stack_status"] == "CREATE_COMPLETE"
    assert answer["deployed"] == {"stack_name": PIPELINE_NAME, "status": "NOT_DEPLOYED"}

    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    cloudformation.create_stack(StackName=PIPELINE_NAME, TemplateBody=stand_in_template(("ModelName",)))
    deployed = service.status({"pipeline_id": PIPELINE_NAME + "-codepipeline"})["deployed"]
    assert deployed["status"] == "CREATE_COMPLETE" and deployed["stack_id"].startswith("arn:aws:cloudformation")


def test_status_before_the_pipeline_exists(aws_scene):
    service = OrchestratorService(make_settings(), Aws())
    pipeline_id = service.provision(example("byom_realtime_builtin"))["pipeline_id"]
    answer = service.status({"pipeline_id": pipeline_id})
    assert answer["message"] == NOT_YET and answer["stack_status"] == "CREATE_COMPLETE"


def test_unknown_pipeline_is_not_found(aws_scene):
    service = OrchestratorService(make_settings(), Aws())
    with pytest.raises(NotFound):
        service.status({"pipeline_id": "mlops-pipeline-nothing-here-codepipeline"})


@pytest.mark.parametrize("body", [{}, {"pipeline_id": ""}, {"pipeline_id": 3}, ["x"]])
def test_pipeline_id_is_required(aws_scene, body):
    with pytest.raises(ValidationFailed) as caught:
        OrchestratorService(make_settings(), Aws()).status(body)
    assert caught.value.errors[0].field == "pipeline_id"


def test_multi_account_status_reports_each_stage_stackset_instance(aws_scene):
    settings = make_settings(multi_account=True, delegated_admin=False)
    service = OrchestratorService(settings, Aws(stacks=StacksWithPipeline(), pipelines=FakePipelines()))
    pipeline_id = service.provision(example("byom_realtime_builtin"))["pipeline_id"]
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    dev = stackset_name(PIPELINE_NAME, "dev", pipeline_id)
    cloudformation.create_stack_set(StackSetName=dev, TemplateBody=stand_in_template(("ModelName",)))
    cloudformation.create_stack_instances(
        StackSetName=dev, Accounts=[settings.stage_targets["dev"].account_id], Regions=["us-east-1"]
    )

    stages = service.status({"pipeline_id": pipeline_id})["deployed"]["stages"]
    assert set(stages) == {"dev", "staging", "prod"}
    assert stages["dev"]["stackset_name"] == dev and stages["dev"]["account_id"] == "111111111110"
    assert stages["dev"]["status"] != "NOT_DEPLOYED"
    assert stages["staging"]["status"] == "NOT_DEPLOYED" and stages["prod"]["status"] == "NOT_DEPLOYED"
    assert dev == f"{PIPELINE_NAME}-dev-{pipeline_id.rsplit('/', 1)[-1].replace('-', '')[:8]}"


def test_status_answer_is_json_serializable(provisioned):
    from lambdas.pipeline_orchestration.responses import to_json

    service, pipeline_id = provisioned
    assert json.loads(to_json(service.status({"pipeline_id": pipeline_id})))["pipelineName"] == PIPELINE_NAME
    assert ACCOUNT in pipeline_id
