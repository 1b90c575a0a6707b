# SPDX-License-Identifier: Apache-2.0
"""Registry mode: the orchestrator reads the model package before planning, and its model's role reads the
package's artifacts only; a package that does not exist or keeps its artifact outside the orchestrator's buckets
is a 400 naming model_package_name, before any write."""

from __future__ import annotations

import json

import boto3
import pytest

from lambdas.pipeline_orchestration import index
from lambdas.pipeline_orchestration.adapters import Aws
from lambdas.pipeline_orchestration.model_packages import artifact_paths
from lambdas.pipeline_orchestration.service import OrchestratorService
from tests.callers import as_caller
from tests.unit.conftest import ASSETS, REGION, example, make_settings

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def _register(model_data_url: str | None) -> str:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName="churn-models")
    container: dict[str, str] = {"Image": IMAGE}
    if model_data_url:
        container["ModelDataUrl"] = model_data_url
    return sagemaker.create_model_package(
        ModelPackageGroupName="churn-models",
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def _registry_request(package_arn: str, dry_run: bool = True) -> dict:
    body = {
        k: v
        for k, v in example("byom_realtime_builtin").items()
        if k not in ("model_framework", "model_framework_version", "model_artifact_location")
    }
    return {**body, "model_package_name": package_arn, "dry_run": dry_run}


def _post(service: OrchestratorService, body: dict) -> tuple[int, dict]:
    event = {"httpMethod": "POST", "resource": "/provisionpipeline", "body": json.dumps(body)}
    response = index.handle(as_caller(event), service)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def registry(aws_scene) -> OrchestratorService:
    buckets = ("ml-models", "my-assets-bucket")
    return OrchestratorService(make_settings(model_registry=True, allowed_data_buckets=buckets), Aws())


def test_the_plan_names_the_packages_artifact_as_the_object_the_model_reads(registry):
    arn = _register(f"s3://{ASSETS}/models/churn/3/model.tar.gz")
    status, answer = _post(registry, _registry_request(arn))
    assert status == 200, answer
    assert answer["plan"]["parameters"]["ModelPackageArtifacts"] == f"arn:aws:s3:::{ASSETS}/models/churn/3/model.tar.gz"


def test_an_artifact_in_an_allowed_data_bucket_is_accepted(registry):
    arn = _register("s3://ml-models/churn/model.tar.gz")
    status, answer = _post(registry, _registry_request(arn))
    assert status == 200, answer
    assert answer["plan"]["parameters"]["ModelPackageArtifacts"] == "arn:aws:s3:::ml-models/churn/model.tar.gz"


def test_an_artifact_outside_the_orchestrators_buckets_is_a_400_naming_the_package(registry):
    arn = _register("s3://sagemaker-us-east-1-123456789012/churn/model.tar.gz")
    status, answer = _post(registry, _registry_request(arn, dry_run=False))
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == ["model_package_name"]
    assert "sagemaker-us-east-1-123456789012" in answer["errors"][0]["message"]
    # Refused before any write: no stack was created.
    assert boto3.client("cloudformation", region_name=REGION).describe_stacks()["Stacks"] == []


def test_an_artifact_with_a_wildcard_is_a_400_naming_the_package(registry):
    arn = _register(f"s3://{ASSETS}/models/*/model.tar.gz")
    status, answer = _post(registry, _registry_request(arn))
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == ["model_package_name"]
    assert "wildcard" in answer["errors"][0]["message"]


def test_a_package_that_does_not_exist_is_a_400_naming_it(registry):
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/churn-models/9"
    status, answer = _post(registry, _registry_request(arn))
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == ["model_package_name"]
    assert "does not exist" in answer["errors"][0]["message"]


def test_a_package_without_an_artifact_reads_nothing(registry):
    arn = _register(None)
    status, answer = _post(registry, _registry_request(arn))
    assert status == 200, answer
    assert answer["plan"]["parameters"]["ModelPackageArtifacts"] == ""


def test_each_containers_artifact_once_and_an_uncompressed_prefix_as_its_objects():
    package = {
        "InferenceSpecification": {
            "Containers": [
                {"Image": IMAGE, "ModelDataUrl": "s3://b/m/model.tar.gz"},
                {"Image": IMAGE, "ModelDataUrl": "s3://b/m/model.tar.gz"},
                {
                    "Image": IMAGE,
                    "ModelDataSource": {"S3DataSource": {"S3Uri": "s3://b/llm/", "S3DataType": "S3Prefix"}},
                },
                {
                    "Image": IMAGE,
                    "ModelDataSource": {"S3DataSource": {"S3Uri": "s3://b/one.bin", "S3DataType": "S3Object"}},
                },
                {"Image": IMAGE},
            ]
        }
    }
    assert artifact_paths(package) == ["b/m/model.tar.gz", "b/llm/*", "b/one.bin"]
    assert artifact_paths({}) == []


def test_a_package_the_orchestrator_may_not_read_is_a_400_naming_it(aws_scene):
    aws = Aws()

    def refuse(arn):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeModelPackage")

    aws.sagemaker.model_package = refuse  # type: ignore[method-assign]
    service = OrchestratorService(make_settings(model_registry=True, allowed_data_buckets=("my-assets-bucket",)), aws)
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/churn-models/3"
    status, answer = _post(service, _registry_request(arn))
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == ["model_package_name"]
    assert "may not read it" in answer["errors"][0]["message"]
