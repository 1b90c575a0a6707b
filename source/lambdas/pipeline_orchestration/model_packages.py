# SPDX-License-Identifier: Apache-2.0
"""A registered model package's artifacts, read before planning: the model's role reads those objects only.

The package's location is unknown until it is described, so the plan takes it as a fact (`read_facts`) rather
than granting the role the whole assets bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdas.shared.aws import error_code
from lambdas.shared.errors import FieldError, ValidationFailed

from .adapters import Aws
from .catalogue.parameters import MODEL_PACKAGE_ARTIFACTS
from .rules import POLICY_WILDCARDS
from .settings import Settings

FIELD = "model_package_name"


def read_facts(values: Mapping[str, Any], settings: Settings, aws: Aws) -> dict[str, str]:
    """The facts a plan needs from AWS ({} when the request names no model package). A package that does not
    exist, or whose artifacts lie outside the orchestrator's buckets, is a 400 naming model_package_name."""
    arn = values.get(FIELD)
    if not isinstance(arn, str) or not arn:
        return {}
    try:
        package = aws.sagemaker.model_package(arn)
    except Exception as error:
        if error_code(error) not in ("AccessDenied", "AccessDeniedException"):
            raise
        reason = "the orchestrator may not read it (a package of another account needs a resource policy)"
        raise ValidationFailed([FieldError(FIELD, f"names a model package {reason}: {arn}")]) from error
    if package is None:
        raise ValidationFailed([FieldError(FIELD, f"names no model package: {arn} does not exist")])
    paths = artifact_paths(package)
    allowed = (settings.assets_bucket, *settings.allowed_data_buckets)
    listed = ", ".join(settings.allowed_data_buckets) or "none"
    for path in paths:
        bucket = path.split("/", 1)[0]
        if bucket not in allowed:
            raise ValidationFailed(
                [
                    FieldError(
                        FIELD,
                        f"has its artifact at s3://{path}, outside the orchestrator's buckets (the assets bucket "
                        f"{settings.assets_bucket} and AllowedDataBuckets: {listed}); "
                        "the model's role reads only there",
                    )
                ]
            )
        if any(mark in path.removesuffix("/*") for mark in POLICY_WILDCARDS):
            raise ValidationFailed(
                [FieldError(FIELD, f"has its artifact at s3://{path}, which holds an IAM wildcard or policy variable")]
            )
    return {MODEL_PACKAGE_ARTIFACTS.name: ",".join(paths)}


def artifact_paths(package: Mapping[str, Any]) -> list[str]:
    """bucket/key of each container's artifact (ModelDataUrl, or ModelDataSource's object or prefix/*), in order."""
    paths: list[str] = []
    for container in (package.get("InferenceSpecification") or {}).get("Containers") or []:
        url = container.get("ModelDataUrl")
        source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
        if url:
            path = _path(url)
        elif source.get("S3Uri"):
            path = _path(source["S3Uri"])
            if source.get("S3DataType") == "S3Prefix":
                path = path.rstrip("/") + "/*"
        else:
            continue  # an image with no artifact of its own
        if path not in paths:
            paths.append(path)
    return paths


def _path(uri: str) -> str:
    return uri.removeprefix("s3://")
