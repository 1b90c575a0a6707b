# SPDX-License-Identifier: Apache-2.0
"""Local mode with VPC fields set: the model, the training job and the monitor's baseline job that the
pipelines create carry the subnets, security groups and isolation asked for, read back from the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.demo import sample_model
from local.examples import pipeline_name
from tests.e2e.conftest import EXAMPLES, LocalScene

SUBNETS = ["subnet-0123abcd", "subnet-4567abcd"]
GROUPS = ["sg-0123abcd"]
VPC = {"subnet_ids": SUBNETS, "security_group_ids": GROUPS}
VPC_CONFIG = {"SecurityGroupIds": GROUPS, "Subnets": SUBNETS}


def provision(scene: LocalScene, pipeline_type: str, **fields: Any) -> str:
    body = {**scene.request(pipeline_type), **VPC, **fields}
    answer = scene.call("POST", "/provisionpipeline", body)
    assert answer.status == 200, answer.body
    name = pipeline_name({**body, "pipeline_type": pipeline_type})
    described = scene.wait(name)
    assert described["state"] == "ACTIVE", described.get("reason")
    return name


def physical_ids(scene: LocalScene, stack: str, resource_type: str) -> list[str]:
    resources = scene.aws("cloudformation").list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == resource_type]


@pytest.mark.parametrize("pipeline_type", ["byom_realtime_builtin", "byom_batch_builtin"])
def test_the_model_of_an_endpoint_or_transform_job_runs_in_the_vpc_isolated(single_account, pipeline_type):
    name = provision(single_account, pipeline_type, enable_network_isolation=True)
    (model_arn,) = physical_ids(single_account, name, "AWS::SageMaker::Model")
    model = single_account.aws("sagemaker").describe_model(ModelName=model_arn.rsplit("/", 1)[-1])
    assert model["VpcConfig"] == VPC_CONFIG
    assert model["EnableNetworkIsolation"] is True


def test_the_training_job_runs_in_the_vpc(single_account):
    provision(single_account, "model_training_builtin", enable_network_isolation=True)
    sagemaker = single_account.aws("sagemaker")
    body = single_account.request("model_training_builtin")
    (job,) = sagemaker.list_training_jobs(NameContains=body["model_name"].lower())["TrainingJobSummaries"]
    described = sagemaker.describe_training_job(TrainingJobName=job["TrainingJobName"])
    assert described["VpcConfig"] == VPC_CONFIG
    assert described["EnableNetworkIsolation"] is True


def test_the_monitors_baseline_job_runs_in_the_vpc(single_account):
    provision(single_account, "byom_data_quality_monitor", encrypt_inter_container_traffic=False)
    sagemaker = single_account.aws("sagemaker")
    jobs = sagemaker.list_processing_jobs(NameContains="dataquality")["ProcessingJobSummaries"]
    assert jobs
    described = sagemaker.describe_processing_job(ProcessingJobName=jobs[0]["ProcessingJobName"])
    assert described["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": False,
        "EnableNetworkIsolation": False,
        "VpcConfig": VPC_CONFIG,
    }


def test_a_bad_network_field_is_a_400_naming_it_and_nothing_is_created(single_account):
    body = {**single_account.request("byom_realtime_builtin"), "subnet_ids": ["subnet-xyz"]}
    before = single_account.aws("cloudformation").describe_stacks()["Stacks"]
    answer = single_account.call("POST", "/provisionpipeline", body)
    assert answer.status == 400
    assert "subnet_ids[0]" in str(answer.body) and "subnet id" in str(answer.body)
    assert single_account.aws("cloudformation").describe_stacks()["Stacks"] == before


def test_each_stage_account_deploys_its_model_in_its_own_vpc(multi_account):
    body = json.loads((EXAMPLES / "multi_account" / "byom_realtime_builtin_vpc.json").read_text())
    s3 = multi_account.aws("s3")
    s3.put_object(Bucket=multi_account.settings.assets_bucket, Key=body["model_artifact_location"], Body=sample_model())
    answer = multi_account.call("POST", "/provisionpipeline", body)
    assert answer.status == 200, answer.body
    name = pipeline_name(body)
    for stage in ("staging", "prod"):
        multi_account.wait(name, until="Approval")
        assert multi_account.call("POST", f"/pipelines/{name}/approval", {"stage": stage}).status == 200
    described = multi_account.wait(name)
    assert described["state"] == "ACTIVE", described.get("reason")
    for stage, deployed in described["deployed"]["stages"].items():
        account = deployed["account_id"]
        resources = multi_account.aws("cloudformation", account).list_stack_resources(StackName=deployed["stack_id"])
        (model_arn,) = [
            r["PhysicalResourceId"]
            for r in resources["StackResourceSummaries"]
            if r["ResourceType"] == "AWS::SageMaker::Model"
        ]
        model = multi_account.aws("sagemaker", account).describe_model(ModelName=model_arn.rsplit("/", 1)[-1])
        assert model["VpcConfig"] == {
            "SecurityGroupIds": body["security_group_ids"][stage],
            "Subnets": body["subnet_ids"][stage],
        }, stage
        assert model["EnableNetworkIsolation"] is body["enable_network_isolation"][stage], stage
