# SPDX-License-Identifier: Apache-2.0
"""What several blueprint families share: conditions, request fields, parameter pieces and names."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import images
from ..rules import (
    ECR_IMAGE_URI,
    KMS_KEY_ARN,
    MODEL_PACKAGE_ARN,
    AssetKey,
    BoolText,
    BucketPath,
    Choice,
    InstanceType,
    ListOf,
    Name,
    Pattern,
    RuleBroken,
    Text,
)
from ..settings import Settings
from ..spec import Creates, Field, Kept, StageView, When
from . import parameters as P
from .values import PROBLEM_TYPES

PIPELINE_PREFIX = "mlops-pipeline"
# The IAM path of the wrapper pipelines' own roles, the only principals that write CodePipeline's artifacts. It does
# not begin with PIPELINE_PREFIX, so no role under the permissions boundary (which writes `role/mlops-pipeline*`
# only) can create a role there.
ARTIFACT_WRITERS_PATH = "/mlops-artifact-writers/"
# The permissions boundary the orchestrator stack's StackSet creates in every stage account (multi-account mode).
# It does not begin with PIPELINE_PREFIX: no policy a pipeline stack writes can take its name.
STAGE_BOUNDARY_POLICY_NAME = "mlops-stage-permissions-boundary"

# ---------------------------------------------------------------------------------------------------------
# Conditions


def _registry_on(_: Mapping[str, Any], settings: Settings) -> bool:
    return settings.model_registry


def _registry_off(_: Mapping[str, Any], settings: Settings) -> bool:
    return not settings.model_registry


REGISTRY = When(_registry_on, "required when the orchestrator uses the model registry")
NO_REGISTRY = When(_registry_off, "required unless the orchestrator uses the model registry", by_default=True)


def _problem_in(*types: str) -> When:
    return When(
        lambda values, _: values.get("problem_type") in types,
        f"required when problem_type is {' or '.join(types)}",
        {"properties": {"problem_type": {"enum": list(types)}}, "required": ["problem_type"]},
    )


# ---------------------------------------------------------------------------------------------------------
# Fields shared by several types

# Kept as given (tags and parameters carry it); only stack names are lower-cased.
MODEL_NAME = Field("model_name", Name(max_len=63), True, doc="Name of the model; part of every stack name.")
KMS_KEY = Field("kms_key_arn", KMS_KEY_ARN, stage=True, doc="KMS key for outputs and volumes.")
ENDPOINT_NAME_OPTIONAL = Field(
    "endpoint_name", Name(max_len=63, lower=True, allow_empty=True), stage=True, doc="Custom endpoint name."
)
INFERENCE_INSTANCE = Field(
    "inference_instance", InstanceType(), True, stage=True, doc="Instance type of the endpoint or transform job."
)
MODEL_FRAMEWORK = Field(
    "model_framework",
    Text(
        max_len=64,
        pattern=r"[a-z0-9][a-z0-9-]*",
        pattern_hint="must be a SageMaker framework or algorithm name such as xgboost",
        numbers_ok=False,
    ),
    NO_REGISTRY,
    doc="Built-in algorithm or framework whose image serves the model.",
)
MODEL_FRAMEWORK_VERSION = Field(
    "model_framework_version",
    Text(max_len=32, pattern=r"[A-Za-z0-9][A-Za-z0-9.-]*", pattern_hint="must be a version such as 1.7-1"),
    NO_REGISTRY,
    doc="Version of the framework image.",
)
MODEL_ARTIFACT = Field(
    "model_artifact_location", AssetKey(), NO_REGISTRY, doc="Key of model.tar.gz in the assets bucket."
)
MODEL_PACKAGE = Field(
    "model_package_name", MODEL_PACKAGE_ARN, REGISTRY, doc="Model package version ARN from the model registry."
)
CUSTOM_IMAGE = Field("custom_image_uri", ECR_IMAGE_URI, NO_REGISTRY, doc="ECR URI of the custom inference image.")
DATA_CAPTURE = Field(
    "data_capture_location", BucketPath(), True, stage=True, doc="bucket/prefix for the endpoint's captured data."
)

# Fields that only make sense with (or without) the registry: given in the other mode they are ignored.
REGISTRY_ONLY = ("model_package_name",)
NON_REGISTRY_ONLY = ("model_framework", "model_framework_version", "model_artifact_location", "custom_image_uri")

PROBLEM_TYPE = Field(
    "problem_type",
    Choice(values=PROBLEM_TYPES),
    True,
    doc="Regression, BinaryClassification or MulticlassClassification.",
)


def _allowed_keys(allowed: tuple[str, ...], required: tuple[str, ...] = ()):
    def check(obj: Mapping[str, Any]) -> list[str]:
        problems = [f"needs the key '{key}'" for key in required if key not in obj]
        problems += [f"has the unknown key '{key}' (known: {', '.join(allowed)})" for key in obj if key not in allowed]
        return problems

    return check


def _image_check(scope: str):
    def check(values: Mapping[str, Any], settings: Settings) -> list[tuple[str, str]]:
        framework, version = values.get("model_framework"), values.get("model_framework_version")
        if not framework or not version:
            return []
        problem = images.framework_problem(framework, version, settings.region, scope)
        if not problem:
            return []
        return [("model_framework" if problem.startswith("unknown framework") else "model_framework_version", problem)]

    return check


_check_image = _image_check("inference")
_check_training_image = _image_check("training")


def _given(values: Mapping[str, Any], name: str) -> bool:
    return values.get(name) not in (None, "")


def short_hash(*parts: Any) -> str:
    """Four hex digits that change when the given values change, and only then."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:4]


def _bucket(path: str) -> str:
    return path.split("/", 1)[0] if path else ""


def boundary(view: StageView) -> str:
    """The permissions boundary of a stack's roles: the orchestrator's in its own account, in a stage account the
    one the orchestrator stack's StackSet created there."""
    if not view.stage:
        return view.settings.permissions_boundary_arn
    account = view.settings.stage_targets[view.stage].account_id if view.settings.stage_targets else ""
    role = view.settings.cfn_role_arn  # the orchestrator's own partition
    partition = role.split(":")[1] if role.startswith("arn:") else "aws"
    return f"arn:{partition}:iam::{account}:policy/{STAGE_BOUNDARY_POLICY_NAME}" if account else ""


def _common(view: StageView) -> dict[str, str]:
    return {
        "AssetsBucket": view.settings.assets_bucket,
        "KmsKeyArn": view.text("kms_key_arn"),
        "BlueprintBucket": view.settings.blueprint_bucket,
        BOUNDARY_PARAMETER: boundary(view),
    }


def _model_source(view: StageView, image_uri: str) -> dict[str, str]:
    # Without the registry, validation drops a model package given beside the artifact (the predecessor deployed
    # the artifact); the blueprint prefers a package it is given to the image and artifact.
    package_arn = view.text("model_package_name")
    group = package_arn.split("/", 1)[1].rsplit("/", 1)[0] if "/" in package_arn else ""
    # Read from the package before planning (model_packages.read_facts); empty offline, where nothing is deployed.
    paths = view.facts.get(P.MODEL_PACKAGE_ARTIFACTS.name, "") if package_arn else ""
    package_artifacts = ",".join(f"arn:{partition(view.settings.region)}:s3:::{p}" for p in paths.split(",") if p)
    if view.settings.model_registry:
        return {
            "ModelArtifactLocation": "",
            "ImageUri": "",
            "ModelPackageGroupName": group,
            "ModelPackageName": package_arn,
            P.MODEL_PACKAGE_ARTIFACTS.name: package_artifacts,
        }
    return {
        "ModelArtifactLocation": view.text("model_artifact_location"),
        "ImageUri": image_uri,
        "ModelPackageGroupName": group,
        "ModelPackageName": package_arn,
        P.MODEL_PACKAGE_ARTIFACTS.name: package_artifacts,
    }


def partition(region: str) -> str:
    """The ARN partition of a region."""
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def _inference_image(view: StageView) -> str:
    if view.settings.model_registry:
        return ""
    if view.declares("custom_image_uri") and view.get("custom_image_uri"):
        return view.text("custom_image_uri")
    return images.framework_image(
        view.text("model_framework"), view.text("model_framework_version"), view.settings.region
    )


BOUNDARY_PARAMETER = P.PERMISSIONS_BOUNDARY_ARN.name

# User data a teardown keeps, in the order a teardown's answer lists it.
KEEP_DATA_CAPTURE = Kept("data_capture_location", "data captured from the endpoint")
KEEP_BASELINE_OUTPUT = Kept("baseline_job_output_location", "baseline job reports")
KEEP_MONITORING_OUTPUT = Kept("monitoring_output_location", "monitoring reports")
KEEP_BATCH_OUTPUT = Kept("batch_job_output_location", "batch transform output")
KEEP_ASYNC_OUTPUT = Kept("async_output_location", "asynchronous inference results")
KEEP_JOB_OUTPUT = Kept("job_output_location", "trained models and job output", "assets")
KEEP_MODEL_ARTIFACT = Kept("model_artifact_location", "model artifact", "assets")
KEEP_MODEL_PACKAGE = Kept("model_package_name", "model package in the model registry", "as_is")

# The SageMaker model of the real-time and batch blueprints.
MODEL = Creates(
    "model",
    ("sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:DeleteModel"),
    "AWS::SageMaker::Model",
    "ModelName",
)


# ---------------------------------------------------------------------------------------------------------
# The VPC and network isolation of the containers a pipeline runs. A request's subnets and security groups
# replace the orchestrator's defaults (its stack parameters, per stage account in multi-account mode) as a pair.

SUBNET_IDS = Field(
    "subnet_ids",
    ListOf(
        Pattern(pattern=P.SUBNET_ID, hint="must be a subnet id: subnet- and 8 or 17 hex digits"),
        max_items=P.MAX_SUBNETS,
        min_items=1,
        allow_empty=True,
    ),
    stage=True,
    doc=f"Subnets (1 to {P.MAX_SUBNETS}) the containers run in; default: the orchestrator's.",
)
SECURITY_GROUP_IDS = Field(
    "security_group_ids",
    ListOf(
        Pattern(pattern=P.SECURITY_GROUP_ID, hint="must be a security group id: sg- and 8 or 17 hex digits"),
        max_items=P.MAX_SECURITY_GROUPS,
        min_items=1,
        allow_empty=True,
    ),
    stage=True,
    doc=f"Security groups (1 to {P.MAX_SECURITY_GROUPS}) of the containers, with subnet_ids.",
)
ENABLE_NETWORK_ISOLATION = Field(
    "enable_network_isolation",
    BoolText(),
    default="False",
    stage=True,
    doc="True: the containers make no network calls of their own.",
)
ENCRYPT_INTER_CONTAINER_TRAFFIC = Field(
    "encrypt_inter_container_traffic",
    BoolText(),
    default="True",
    stage=True,
    doc="Encrypt traffic between the containers of the baseline and monitoring jobs.",
)


@dataclass(eq=False, repr=False)
class _Refused(BoolText):
    """A switch this type cannot turn on: True is refused with the reason."""

    reason: str = ""

    def normalize(self, value: Any) -> Any:
        normalized = super().normalize(value)
        if normalized == "True":
            raise RuleBroken(self.reason)
        return normalized


def isolation_refused(reason: str) -> Field:
    """enable_network_isolation for a type whose containers cannot run isolated."""
    return Field(
        ENABLE_NETWORK_ISOLATION.name,
        _Refused(reason=f"cannot be true: {reason}"),
        default="False",
        stage=True,
        doc=f"Must stay false: {reason}.",
    )


NETWORK_FIELDS = (SUBNET_IDS, SECURITY_GROUP_IDS, ENABLE_NETWORK_ISOLATION)


def check_network(values: Mapping[str, Any], _: Settings) -> list[tuple[str, str]]:
    """Subnets and security groups come together: a VPC configuration needs both."""
    if "subnet_ids" not in values or "security_group_ids" not in values:
        return []  # one is broken, and reported as such
    subnets, groups = _given(values, "subnet_ids"), _given(values, "security_group_ids")
    if subnets and not groups:
        return [("security_group_ids", "is required with subnet_ids: a VPC configuration needs both")]
    if groups and not subnets:
        return [("subnet_ids", "is required with security_group_ids: a VPC configuration needs both")]
    return []


def network(view: StageView, *, defaults: bool = True) -> dict[str, str]:
    """SubnetIds and SecurityGroupIds: the request's pair, else the orchestrator's for this stage's account."""
    subnets, groups = view.get("subnet_ids"), view.get("security_group_ids")
    if not subnets and defaults:
        subnets, groups = view.settings.network(view.stage)
    return {P.SUBNET_IDS.name: ",".join(subnets or ()), P.SECURITY_GROUP_IDS.name: ",".join(groups or ())}


def isolated_network(view: StageView, *, defaults: bool = True) -> dict[str, str]:
    return {**network(view, defaults=defaults), P.ENABLE_NETWORK_ISOLATION.name: view.text("enable_network_isolation")}
