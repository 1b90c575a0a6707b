# SPDX-License-Identifier: Apache-2.0
"""Scene for the lifecycle tests: moto, the two buckets, stand-in templates, and fakes where moto has gaps.

moto does not have our synthesized templates, so the blueprints bucket holds small stand-ins: each declares
the parameters the catalogue sends and creates one `AWS::SNS::Topic`. moto does not run CodePipelines (no
GetPipelineState, no S3 source revisions) nor create `AWS::CodePipeline::Pipeline` resources, so
`StandInStacks` reports one pipeline resource per CodePipeline stack and `FakePipelines` holds executions the
test records. Blueprint stacks, which a CodePipeline would deploy, are created by the test with boto3.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from lambdas.pipeline_orchestration import index
from lambdas.pipeline_orchestration.adapters import Aws, Pipelines, Stacks
from lambdas.pipeline_orchestration.catalogue import CATALOGUE, MULTI_ACCOUNT_PIPELINE, SINGLE_ACCOUNT_PIPELINE
from lambdas.pipeline_orchestration.planner import BLUEPRINTS_PREFIX
from lambdas.pipeline_orchestration.service import OrchestratorService
from lambdas.pipeline_orchestration.settings import Settings, StageTarget
from lambdas.shared.aws import client
from local.session import create_index_table
from tests.callers import ALICE, BOB, context

ASSETS, BLUEPRINTS = "mlops-assets", "mlops-blueprints"
DEV, STAGING, PROD = "111111111111", "222222222222", "333333333333"
# The monitors of these tests watch an endpoint their stand-in stacks do not create: listed, as an operator would.
MONITORED = ("churn-endpoint",)
SINGLE = Settings(assets_bucket=ASSETS, blueprint_bucket=BLUEPRINTS, allowed_monitored_endpoints=MONITORED)
MULTI = Settings(
    assets_bucket=ASSETS,
    blueprint_bucket=BLUEPRINTS,
    allowed_monitored_endpoints=MONITORED,
    multi_account=True,
    delegated_admin=False,
    stage_targets={
        "dev": StageTarget(DEV, "ou-dev-11111111"),
        "staging": StageTarget(STAGING, "ou-stg-22222222"),
        "prod": StageTarget(PROD, "ou-prd-33333333"),
    },
)

REALTIME = {
    "pipeline_type": "byom_realtime_builtin",
    "model_name": "churn",
    "inference_instance": "ml.m5.large",
    "model_framework": "xgboost",
    "model_framework_version": "1.7-1",
    "model_artifact_location": "models/churn.tar.gz",
    "data_capture_location": "capture-bucket/churn",
}
BATCH = {
    "pipeline_type": "byom_batch_custom",
    "model_name": "fraud",
    "inference_instance": "ml.m5.large",
    "custom_image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-custom-algorithms:fraud-1",
    "model_artifact_location": "models/fraud.tar.gz",
    "batch_inference_data": "data-bucket/fraud/input.csv",
    "batch_job_output_location": "data-bucket/fraud/output",
}
TRAINING = {
    "pipeline_type": "model_training_builtin",
    "model_name": "house",
    "training_data": "data/train.csv",
    "job_output_location": "training-output",
    "model_framework": "xgboost",
    "model_framework_version": "1.7-1",
    "algo_hyperparamaters": {"num_round": 10},
}


def stand_in_template(
    parameters: tuple[str, ...], outputs: dict[str, str] | None = None, resource: str = "AWS::SNS::Topic"
) -> str:
    template: dict[str, Any] = {
        "Parameters": {name: {"Type": "String", "Default": ""} for name in parameters},
        "Resources": {"Stand": {"Type": resource}},
    }
    if outputs:
        template["Outputs"] = {key: {"Value": value} for key, value in outputs.items()}
    return json.dumps(template)


class StandInStacks(Stacks):
    """moto's stacks, plus the CodePipeline resource moto cannot create for a CodePipeline stack."""

    def resources(self, name_or_id: str) -> list[dict[str, Any]]:
        found = super().resources(name_or_id)
        stack = self.describe(name_or_id)
        if stack and (stack["StackName"].endswith("-codepipeline") or "imagebuilder" in stack["StackName"]):
            found.append(
                {
                    "LogicalResourceId": "Pipeline",
                    "ResourceType": "AWS::CodePipeline::Pipeline",
                    "PhysicalResourceId": f"{stack['StackName']}-pipeline",
                }
            )
        return found


@dataclass
class FakePipelines(Pipelines):
    """Executions and state of CodePipelines, recorded by the test (moto does not run pipelines)."""

    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def record(self, pipeline_name: str, status: str, zip_version: str | None = None) -> str:
        runs = self.runs.setdefault(f"{pipeline_name}-codepipeline-pipeline", [])
        execution_id = f"execution-{len(runs) + 1}"
        revisions = [{"actionName": "S3Source", "revisionId": zip_version}] if zip_version else []
        runs.insert(
            0,
            {
                "pipelineExecutionId": execution_id,
                "status": status,
                "startTime": datetime.now(UTC),
                "sourceRevisions": revisions,
            },
        )
        return execution_id

    def executions(self, name: str, limit: int = 100) -> list[dict[str, Any]]:
        return self.runs.get(name, [])[:limit]

    def stop(self, name: str, execution_id: str, reason: str) -> None:
        for run in self.runs.get(name, []):
            if run["pipelineExecutionId"] == execution_id:
                run["status"] = "Stopped"
                run["stopTrigger"] = {"reason": reason}

    def state(self, name: str) -> dict[str, Any]:
        latest = self.runs.get(name, [{}])[0]
        status = latest.get("status", "NOT_RUN")
        return {
            "pipelineName": name,
            "pipelineVersion": 1,
            "stageStates": [
                {
                    "stageName": stage,
                    "latestExecution": {"pipelineExecutionId": latest.get("pipelineExecutionId"), "status": status},
                    "actionStates": [{"actionName": action, "latestExecution": {"status": status}}],
                }
                for stage, action in (("Source", "S3Source"), ("DeployCloudFormation", "deploy_stack"))
            ],
        }


@dataclass
class Scene:
    settings: Settings
    service: OrchestratorService
    pipelines: FakePipelines

    @property
    def multi(self) -> bool:
        return self.settings.multi_account

    def call(
        self,
        method: str,
        resource: str,
        body: Any = None,
        path: dict[str, str] | None = None,
        query: Any = None,
        caller: str = ALICE,
    ) -> tuple[int, Any]:
        """Invoke the handler with an API Gateway proxy event built by hand, as `caller`; answers (status, body)."""
        event = {
            "requestContext": context(caller),
            "httpMethod": method,
            "resource": resource,
            "path": resource.format_map({"pipeline_name": "", **(path or {})}),
            "pathParameters": path,
            "queryStringParameters": query,
            "body": json.dumps(body) if body is not None else None,
        }
        response = index.handle(event, self.service)
        return response["statusCode"], json.loads(response["body"])

    def delete(self, pipeline_name: str) -> tuple[int, Any]:
        """DELETE as alice; in multi-account mode, where a deployed pipeline's teardown waits for another
        principal, bob approves it. Answers the teardown's (status, body)."""
        status, answer = self.call("DELETE", "/pipelines/{pipeline_name}", path={"pipeline_name": pipeline_name})
        if status == 202 and answer.get("approval_stage") == "teardown":
            approval = ("POST", "/pipelines/{pipeline_name}/approval", {"stage": "teardown"})
            status, answer = self.call(*approval, path={"pipeline_name": pipeline_name}, caller=BOB)
            assert status == 200, answer
            return 202, answer
        return status, answer

    def provision(self, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = self.call("POST", "/provisionpipeline", body)
        assert status == 200, answer
        return answer

    def deploy_blueprint(self, pipeline_name: str, outputs: dict[str, str] | None = None) -> None:
        """Stand in for the CodePipeline: deploy the blueprint stack (single) or the stage StackSets (multi)."""
        cloudformation = client("cloudformation")
        wrapper = cloudformation.describe_stacks(StackName=f"{pipeline_name}-codepipeline")["Stacks"][0]
        # moto names a StackSet instance's topic illegally: the stand-in deployment holds a no-op resource.
        template = stand_in_template(("ModelName",), outputs, "AWS::CloudFormation::WaitConditionHandle")
        if not self.multi:
            cloudformation.create_stack(StackName=pipeline_name, TemplateBody=template)
            return
        from lambdas.pipeline_orchestration.status import stackset_name

        for stage, target in (self.settings.stage_targets or {}).items():
            name = stackset_name(pipeline_name, stage, wrapper["StackId"])
            cloudformation.create_stack_set(StackSetName=name, TemplateBody=template)
            cloudformation.create_stack_instances(
                StackSetName=name, Accounts=[target.account_id], Regions=[self.settings.region]
            )

    def run(self, pipeline_name: str, status: str = "Succeeded") -> None:
        """Stand in for an execution of the pipeline's CodePipeline that ends in `status` (it deploys the
        blueprint when it succeeds), and for EventBridge, which tells the orchestrator it ended."""
        if status == "Succeeded":
            self.deploy_blueprint(pipeline_name)
        execution_id = self.pipelines.record(pipeline_name, status)
        self.service.on_pipeline_event(
            {
                "source": "aws.codepipeline",
                "detail-type": "CodePipeline Pipeline Execution State Change",
                "detail": {
                    "pipeline": f"{pipeline_name}-codepipeline-pipeline",
                    "execution-id": execution_id,
                    "state": status.upper(),
                },
            }
        )

    def zip_version(self, pipeline_name: str) -> str:
        head = client("s3").head_object(Bucket=ASSETS, Key=f"mlops_provisioned_pipelines/{pipeline_name}/template.zip")
        return head["VersionId"]


def _buckets() -> None:
    s3 = client("s3")
    for bucket in (ASSETS, BLUEPRINTS):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=ASSETS, VersioningConfiguration={"Status": "Enabled"})
    templates = {b.template: b.parameters for t in CATALOGUE.values() for b in t.all_blueprints}
    for wrapper in (SINGLE_ACCOUNT_PIPELINE, MULTI_ACCOUNT_PIPELINE):
        templates[wrapper.template] = wrapper.parameters
    for name, parameters in templates.items():
        s3.put_object(Bucket=BLUEPRINTS, Key=f"{BLUEPRINTS_PREFIX}/{name}", Body=stand_in_template(parameters))
    create_index_table(SINGLE.index_table)
    # The orchestrator's repository, which image-builder requests push to.
    client("ecr").create_repository(repositoryName=SINGLE.ecr_repo_name, imageTagMutability="IMMUTABLE")


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
    with mock_aws():
        # The cached clients stay: moto intercepts them in every mock, and building clients is the slow part.
        _buckets()
        yield


@pytest.fixture(params=["single-account", "multi-account"])
def scene(request: pytest.FixtureRequest, moto_aws: None) -> Scene:
    settings = SINGLE if request.param == "single-account" else MULTI
    pipelines = FakePipelines()
    service = OrchestratorService(settings, Aws(stacks=StandInStacks(), pipelines=pipelines))
    return Scene(settings, service, pipelines)
