# SPDX-License-Identifier: Apache-2.0
"""CloudFormation parameters of the blueprints, declared from the catalogue's names.

`declare` creates exactly the parameters a catalogue Blueprint lists, in its order, each with the
constraint below; a name without a definition here is a build error, so a template cannot drift from the
catalogue. The constraints repeat the request rules as a last line of defence for hand-made deployments.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnCondition, CfnParameter, Fn, Stack

from infrastructure.boundary import PARAMETER as BOUNDARY_PARAMETER
from infrastructure.boundary import bound_every_role
from lambdas.pipeline_orchestration.spec import Blueprint

BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
BUCKET_PATH = BUCKET + r"(/[^/]+)*/?"
NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
SNS_ARN = r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}"
NUMBER_OR_EMPTY = r"(\d+)?"


def _optional(pattern: str) -> str:
    return f"({pattern})?"


def _p(description: str, pattern: str | None = None, hint: str = "", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "String", "description": description, **extra}
    if pattern is not None:
        spec["allowed_pattern"] = pattern
        spec["constraint_description"] = hint or f"must match {pattern}"
    return spec


PARAMETERS: dict[str, dict[str, Any]] = {
    # Shared by the model blueprints
    "AssetsBucket": _p(
        "Bucket of the orchestrator's assets (models, data, pipeline artifacts).", BUCKET, "a bucket name"
    ),
    "BlueprintBucket": _p("Bucket holding the blueprints and their Lambda code.", BUCKET, "a bucket name"),
    "KmsKeyArn": _p(
        "KMS key ARN for outputs and volumes; empty for AWS-managed encryption.",
        _optional(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[a-zA-Z0-9/_-]+"),
        "a KMS key ARN or empty",
    ),
    "ModelName": _p("Name of the model (tags and job names).", NAME, "letters, digits and hyphens, at most 63"),
    "InferenceInstance": _p(
        "Instance type of the endpoint or transform job.",
        r"ml\.[a-z0-9]+\.[a-z0-9]+",
        "a SageMaker instance type such as ml.m5.large",
    ),
    "CustomAlgorithmsECRRepoArn": _p(
        "ARN of the solution's ECR repository of custom images; empty if there is none.",
        _optional(r"arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository/[a-z0-9._/-]+"),
        "an ECR repository ARN or empty",
    ),
    "ModelArtifactLocation": _p("Key of model.tar.gz in the assets bucket; empty with the model registry."),
    "ImageUri": _p("Inference image URI; empty with the model registry."),
    "ModelPackageGroupName": _p("Model package group; empty without the model registry.", _optional(NAME)),
    "ModelPackageName": _p(
        "Model package version ARN; empty without the model registry.",
        _optional(r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+"),
        "a model package version ARN or empty",
    ),
    # Real-time
    "DataCaptureLocation": _p(
        "bucket/prefix for captured data; empty for a serverless endpoint.", _optional(BUCKET_PATH), "bucket/prefix"
    ),
    "EndpointName": _p("Name of the endpoint; empty for a generated name.", _optional(NAME)),
    "AutoscalingMinInstances": _p("Fewest instances with autoscaling.", NUMBER_OR_EMPTY, "a whole number or empty"),
    "AutoscalingMaxInstances": _p(
        "Most instances with autoscaling; empty turns autoscaling off.", NUMBER_OR_EMPTY, "a whole number or empty"
    ),
    "AutoscalingTargetInvocations": _p(
        "Invocations per instance per minute that autoscaling aims at.", NUMBER_OR_EMPTY, "a whole number or empty"
    ),
    "DeploymentStrategy": _p(
        "Blue/green traffic shifting on update; empty for SageMaker's default.",
        # A pattern, not AllowedValues: an empty value stays possible without being offered as a choice.
        "(ALL_AT_ONCE|CANARY|LINEAR)?",
        "ALL_AT_ONCE, CANARY, LINEAR or empty",
    ),
    "TrafficShiftPercent": _p(
        "Capacity percent per canary or linear step.", NUMBER_OR_EMPTY, "a whole number or empty"
    ),
    "TrafficShiftWaitSeconds": _p(
        "Seconds between traffic-shifting steps.", NUMBER_OR_EMPTY, "a whole number or empty"
    ),
    "ServerlessMemorySize": _p(
        "Memory (MB) of a serverless endpoint; empty for instances.",
        "(1024|2048|3072|4096|5120|6144)?",
        "1024 to 6144 in steps of 1024, or empty",
    ),
    "ServerlessMaxConcurrency": _p(
        "Most concurrent invocations of a serverless endpoint.", NUMBER_OR_EMPTY, "a whole number or empty"
    ),
    "AsyncOutputLocation": _p(
        "bucket/prefix for asynchronous results; empty for a synchronous endpoint.",
        _optional(BUCKET_PATH),
        "bucket/prefix or empty",
    ),
    "AsyncSuccessTopicArn": _p(
        "SNS topic for asynchronous successes.", _optional(SNS_ARN), "an SNS topic ARN or empty"
    ),
    "AsyncErrorTopicArn": _p("SNS topic for asynchronous failures.", _optional(SNS_ARN), "an SNS topic ARN or empty"),
    # Batch
    "BatchInputBucket": _p("Bucket of the batch input.", BUCKET, "a bucket name"),
    "BatchInferenceData": _p("bucket/key-or-prefix of the batch input.", BUCKET_PATH, "bucket/key"),
    "BatchOutputLocation": _p("bucket/prefix for the batch output.", BUCKET_PATH, "bucket/prefix"),
    # Image builder
    "NotificationsSNSTopicArn": _p("SNS topic told of the pipeline's outcome.", SNS_ARN, "an SNS topic ARN"),
    "CustomImage": _p("Key in the assets bucket of the zip with the Dockerfile.", r".+\.zip", "a key ending in .zip"),
    "ECRRepoName": _p(
        "ECR repository to push the image to.",
        r"([a-z0-9]+([._-][a-z0-9]+)*/)*[a-z0-9]+([._-][a-z0-9]+)*",
        "an ECR repository name",
    ),
    "ImageTag": _p("Tag of the image.", r"[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}", "a Docker tag"),
    # Wrapper pipelines
    "TemplateZipFileName": _p("Key of the pipeline's template.zip in the assets bucket.", r".+\.zip", "a .zip key"),
    "TemplateFileName": _p("Blueprint template inside template.zip.", r".+\.yaml", "a .yaml file name"),
    "TemplateParamsName": _p("Template configuration inside template.zip.", r".+\.json", "a .json file name"),
    "StackName": _p("Name of the deployed blueprint stack (or StackSets' prefix).", r"[a-zA-Z][-a-zA-Z0-9]{0,127}"),
    "DevParamsName": _p("Dev parameters inside template.zip.", r".+\.json", "a .json file name"),
    "StagingParamsName": _p("Staging parameters inside template.zip.", r".+\.json", "a .json file name"),
    "ProdParamsName": _p("Prod parameters inside template.zip.", r".+\.json", "a .json file name"),
    "DevAccountId": _p("Dev account id.", r"\d{12}", "12 digits"),
    "StagingAccountId": _p("Staging account id.", r"\d{12}", "12 digits"),
    "ProdAccountId": _p("Prod account id.", r"\d{12}", "12 digits"),
    "DevOrgId": _p("Organizational unit of the dev account.", r"(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})"),
    "StagingOrgId": _p(
        "Organizational unit of the staging account.", r"(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})"
    ),
    "ProdOrgId": _p("Organizational unit of the prod account.", r"(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})"),
    BOUNDARY_PARAMETER: _p(
        "Permissions boundary of every role the stack creates; empty for none (a multi-account stage).",
        _optional(r"arn:aws[a-z-]*:iam::\d{12}:policy/[\w+=,.@/-]{1,128}"),
        "an IAM policy ARN or empty",
    ),
    "DelegatedAdminAccount": _p(
        "Yes: call StackSets as the Organization's delegated administrator.",
        allowed_values=["Yes", "No"],
        default="Yes",
    ),
}


def declare(stack: Stack, blueprint: Blueprint, **overrides: dict[str, Any]) -> dict[str, CfnParameter]:
    """Declare the blueprint's parameters, exactly its names; `overrides` adjust one definition."""
    missing = [name for name in blueprint.parameters if name not in PARAMETERS]
    if missing:
        raise KeyError(f"{blueprint.template}: no parameter definition for {', '.join(missing)}")
    declared = {
        name: CfnParameter(stack, name, **{**PARAMETERS[name], **overrides.get(name, {})})
        for name in blueprint.parameters
    }
    if BOUNDARY_PARAMETER in declared:
        bound_every_role(stack, declared[BOUNDARY_PARAMETER])
    return declared


def is_set(stack: Stack, condition_id: str, parameter: CfnParameter) -> CfnCondition:
    """A condition that holds when the parameter is not empty."""
    return CfnCondition(
        stack, condition_id, expression=Fn.condition_not(Fn.condition_equals(parameter.value_as_string, ""))
    )
