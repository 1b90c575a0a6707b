# SPDX-License-Identifier: Apache-2.0
"""Batch transform (byom_batch_pipeline.yaml): fields, builder, types."""

from __future__ import annotations

from ..rules import BucketPath
from ..spec import Blueprint, Field, PipelineType, Reads, StageView
from . import parameters as P
from .shared import (
    CUSTOM_IMAGE,
    INFERENCE_INSTANCE,
    KEEP_BATCH_OUTPUT,
    KEEP_MODEL_ARTIFACT,
    KEEP_MODEL_PACKAGE,
    KMS_KEY,
    MODEL,
    MODEL_ARTIFACT,
    MODEL_FRAMEWORK,
    MODEL_FRAMEWORK_VERSION,
    MODEL_NAME,
    MODEL_PACKAGE,
    NETWORK_FIELDS,
    _bucket,
    _check_image,
    _common,
    _inference_image,
    _model_source,
    check_network,
    isolated_network,
)

_BATCH_DATA = (
    Field("batch_inference_data", BucketPath(), True, stage=True, doc="bucket/key-or-prefix of the CSV input."),
    Field("batch_job_output_location", BucketPath(), True, stage=True, doc="bucket/prefix for the job's output."),
)


def build_batch(view: StageView) -> dict[str, str]:
    return {
        **_common(view),
        "ModelName": view.text("model_name"),
        "InferenceInstance": view.text("inference_instance"),
        "CustomAlgorithmsECRRepoArn": view.settings.ecr_repo_arn,
        **_model_source(view, _inference_image(view)),
        "BatchInputBucket": _bucket(view.text("batch_inference_data")),
        "BatchInferenceData": view.text("batch_inference_data"),
        "BatchOutputLocation": view.text("batch_job_output_location"),
        **isolated_network(view),
    }


BATCH = Blueprint(
    "byom_batch_pipeline.yaml",
    (
        *P.COMMON,
        *P.model_parameters(),
        P.BATCH_INPUT_BUCKET,
        P.BATCH_INFERENCE_DATA,
        P.BATCH_OUTPUT_LOCATION,
        *P.ISOLATED_NETWORK,
    ),
    (MODEL,),
)

# The stack output naming the transform job the stack starts (describe reads the output whose key ends so).
TRANSFORM_JOB_OUTPUT = "BatchTransformJobName"
BATCH_READS = (
    Reads("transform_job", "transform_job", output=TRANSFORM_JOB_OUTPUT, missing="NOT_STARTED", started_by_stack=True),
)
BATCH_KEEPS = (KEEP_BATCH_OUTPUT, KEEP_MODEL_ARTIFACT, KEEP_MODEL_PACKAGE)

TYPES = (
    PipelineType(
        "byom_batch_builtin",
        "BYOMPipelineBatchBuiltIn",
        BATCH,
        (
            MODEL_NAME,
            INFERENCE_INSTANCE,
            MODEL_FRAMEWORK,
            MODEL_FRAMEWORK_VERSION,
            MODEL_ARTIFACT,
            MODEL_PACKAGE,
            *_BATCH_DATA,
            KMS_KEY,
            *NETWORK_FIELDS,
        ),
        build_batch,
        (_check_image, check_network),
        description="Batch transform with a SageMaker built-in or framework image.",
        reads=BATCH_READS,
        rollback=True,
        keeps=BATCH_KEEPS,
    ),
    PipelineType(
        "byom_batch_custom",
        "BYOMPipelineBatchCustom",
        BATCH,
        (
            MODEL_NAME,
            INFERENCE_INSTANCE,
            CUSTOM_IMAGE,
            MODEL_ARTIFACT,
            MODEL_PACKAGE,
            *_BATCH_DATA,
            KMS_KEY,
            *NETWORK_FIELDS,
        ),
        build_batch,
        (check_network,),
        description="Batch transform with a custom ECR image.",
        reads=BATCH_READS,
        rollback=True,
        keeps=BATCH_KEEPS,
    ),
)
