# SPDX-License-Identifier: Apache-2.0
"""The image builder is contained: it pushes only to the orchestrator's repository (or those the operator lists),
never over an existing tag, and resolves Docker Hub base images through the pull-through cache."""

from __future__ import annotations

import boto3
import pytest

from lambdas.blueprints.image_build import docker_hub_path, main, rewrite
from lambdas.pipeline_orchestration.adapters import Aws
from lambdas.pipeline_orchestration.planner import plan_pipeline
from lambdas.pipeline_orchestration.service import OrchestratorService
from lambdas.pipeline_orchestration.settings import Settings
from lambdas.pipeline_orchestration.validation import validate
from lambdas.shared.errors import ValidationFailed
from tests.unit.conftest import REGION, example, make_settings

MANIFEST = '{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}'
CACHE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-docker-hub"


def _refusal(service: OrchestratorService, body: dict) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        service.provision({**body, "dry_run": True})
    return {e.field: e.message for e in caught.value.errors}


def test_a_dry_run_naming_another_repository_is_refused_naming_the_field(service):
    errors = _refusal(service, {**example("byom_image_builder"), "ecr_repo_name": "payments-service"})
    assert set(errors) == {"ecr_repo_name"}
    assert (
        "mlops-custom-algorithms" in errors["ecr_repo_name"] and "AllowedImageRepositories" in errors["ecr_repo_name"]
    )


def test_a_repository_the_operator_lists_is_accepted_and_granted(aws_scene):
    boto3.client("ecr", region_name=REGION).create_repository(repositoryName="team/base-images")
    settings = make_settings(allowed_image_repositories=("team/base-images",))
    body = {**example("byom_image_builder"), "ecr_repo_name": "team/base-images"}
    answer = OrchestratorService(settings, Aws()).provision({**body, "dry_run": True})
    assert answer["dry_run"] is True
    parameters = plan_pipeline(validate(body, settings), settings).stack_parameters
    assert parameters["ImageRepositoryArns"] == (
        f"{settings.ecr_repo_arn},arn:aws:ecr:us-east-1:123456789012:repository/team/base-images"
    )


def test_a_listed_repository_that_does_not_exist_is_refused(service):
    service.settings = make_settings(allowed_image_repositories=("gone",))
    errors = _refusal(service, {**example("byom_image_builder"), "ecr_repo_name": "gone"})
    assert errors == {"ecr_repo_name": "names no repository: gone does not exist in this account and region"}


def test_a_tag_that_exists_is_refused_with_the_reason_before_anything_is_written(service, aws_scene):
    body = example("byom_image_builder")
    boto3.client("ecr", region_name=REGION).put_image(
        repositoryName=body["ecr_repo_name"], imageManifest=MANIFEST, imageTag=body["image_tag"]
    )
    errors = _refusal(service, body)
    assert set(errors) == {"image_tag"}
    assert "mlops-custom-algorithms:sklearn-v4 exists already" in errors["image_tag"]
    assert "tags are immutable" in errors["image_tag"] and "choose a new image_tag" in errors["image_tag"]
    with pytest.raises(ValidationFailed):
        service.provision(body)
    assert "Contents" not in aws_scene.list_objects_v2(Bucket=service.settings.assets_bucket)
    # Another tag of the same repository builds.
    assert service.provision({**body, "image_tag": "sklearn-v5", "dry_run": True})["dry_run"] is True


def test_an_ecr_failure_other_than_not_found_is_not_taken_for_a_free_tag(service, monkeypatch):
    from botocore.exceptions import ClientError

    def denied(repository: str, tag: str):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeImages")

    monkeypatch.setattr(service.aws.images, "tag", denied)
    with pytest.raises(ClientError):
        service.provision({**example("byom_image_builder"), "dry_run": True})


@pytest.mark.parametrize(
    ("prefix", "opt", "expected"),
    [("mlops-docker-hub", True, "mlops-docker-hub"), ("mlops-docker-hub", False, ""), ("", True, "")],
)
def test_the_build_gets_the_cache_unless_the_request_opts_out_or_the_stack_has_none(prefix, opt, expected):
    settings = make_settings(docker_hub_cache_prefix=prefix)
    body = {**example("byom_image_builder"), "use_docker_hub_cache": opt}
    assert plan_pipeline(validate(body, settings), settings).stack_parameters["DockerHubCachePrefix"] == expected


def test_the_settings_read_the_image_parameters():
    settings = Settings.from_env(
        {"ECR_REPO_NAME": "own", "ALLOWED_IMAGE_REPOSITORIES": "a, b/c,,own", "DOCKER_HUB_CACHE_PREFIX": "p"}
    )
    assert settings.allowed_image_repositories == ("a", "b/c", "own")
    assert settings.image_repositories == ("own", "a", "b/c")
    assert settings.docker_hub_cache_prefix == "p"


@pytest.mark.parametrize(
    ("image", "path"),
    [
        ("python:3.12-slim", "library/python:3.12-slim"),
        ("python", "library/python"),
        ("pytorch/pytorch:2.3.0", "pytorch/pytorch:2.3.0"),
        ("docker.io/library/ubuntu:22.04", "library/ubuntu:22.04"),
        ("index.docker.io/nginx", "library/nginx"),
        ("registry-1.docker.io/bitnami/redis:7", "bitnami/redis:7"),
        ("python@sha256:" + "a" * 64, "library/python@sha256:" + "a" * 64),
        ("public.ecr.aws/docker/library/python:3.12", None),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/base:1", None),
        ("localhost/base", None),
        ("registry.example.com:5000/base", None),
        ("scratch", None),
        ("${BASE_IMAGE}", None),
    ],
)
def test_docker_hub_references_are_told_from_other_registries(image, path):
    assert docker_hub_path(image) == path


def test_from_lines_are_resolved_through_the_cache_and_stages_are_kept():
    dockerfile = (
        "# syntax=docker/dockerfile:1\n"
        "FROM --platform=linux/amd64 python:3.12-slim AS build\n"
        "RUN pip install flask\n"
        "from build as test\n"
        "FROM public.ecr.aws/docker/library/python:3.12-slim\n"
        "COPY --from=build /usr/local /usr/local\n"
        "FROM pytorch/pytorch:2.3.0"
    )
    text, changes = rewrite(dockerfile, CACHE)
    assert text.splitlines() == [
        "# syntax=docker/dockerfile:1",
        f"FROM --platform=linux/amd64 {CACHE}/library/python:3.12-slim AS build",
        "RUN pip install flask",
        "from build as test",
        "FROM public.ecr.aws/docker/library/python:3.12-slim",
        "COPY --from=build /usr/local /usr/local",
        f"FROM {CACHE}/pytorch/pytorch:2.3.0",
    ]
    assert not text.endswith("\n")
    assert changes == [
        f"FROM python:3.12-slim -> {CACHE}/library/python:3.12-slim",
        f"FROM pytorch/pytorch:2.3.0 -> {CACHE}/pytorch/pytorch:2.3.0",
    ]


def test_the_build_step_rewrites_the_dockerfile_in_place_and_logs_each_change(tmp_path, capsys):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM ubuntu:22.04\nRUN true\n")
    assert main(["-c", str(dockerfile), CACHE + "/"]) == 0
    assert dockerfile.read_text() == f"FROM {CACHE}/library/ubuntu:22.04\nRUN true\n"
    assert capsys.readouterr().out == f"docker hub cache: FROM ubuntu:22.04 -> {CACHE}/library/ubuntu:22.04\n"
    dockerfile.write_text("FROM public.ecr.aws/x/y:1\n")
    assert main(["-c", str(dockerfile), CACHE]) == 0
    assert "no FROM line names a Docker Hub image" in capsys.readouterr().out


def test_the_build_step_refuses_a_wrong_call(capsys):
    assert main(["-c", "Dockerfile"]) == 2
    assert "usage" in capsys.readouterr().err
