# SPDX-License-Identifier: Apache-2.0
"""Start the batch blueprint's transform job (boto3 CreateTransformJob), called by the stack on deploy.

Invoked synchronously by the invoke-on-deploy custom resource, so a job SageMaker refuses fails the stack
with SageMaker's own message. Returns the job's name and output location for the stack's outputs.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lambdas.blueprints.custom_resource import create_unless_there
from lambdas.shared.aws import client
from lambdas.shared.logging import get_logger

logger = get_logger(__name__)

JOB_NAME_LIMIT = 63
JOB_INFIX = "-batch-transform-"


def job_name(prefix: str, request_id: str) -> str:
    """`<prefix>-batch-transform-<8 hex>`: unique per deployment request, the same when CloudFormation retries."""
    digest = hashlib.sha256(request_id.encode()).hexdigest()[:8]
    room = JOB_NAME_LIMIT - len(JOB_INFIX) - len(digest)
    return f"{prefix[:room].rstrip('-')}{JOB_INFIX}{digest}"


def _s3(path: str) -> str:
    return path if path.startswith("s3://") else f"s3://{path}"


def transform_job_request(properties: dict[str, Any], name: str) -> dict[str, Any]:
    kms_key = properties.get("KmsKeyArn", "")
    content_type = properties.get("ContentType") or "text/csv"
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": properties["ModelName"],
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": _s3(properties["InputLocation"])}},
            "ContentType": content_type,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {
            "S3OutputPath": _s3(properties["OutputLocation"]),
            "Accept": content_type,
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": properties["InstanceType"], "InstanceCount": 1},
        "Tags": [{"Key": "model_name", "Value": properties.get("JobPrefix", "")}],
    }
    if kms_key:
        request["TransformOutput"]["KmsKeyId"] = kms_key
        request["TransformResources"]["VolumeKmsKeyId"] = kms_key
    return request


def start_transform_job(properties: dict[str, Any], request_id: str) -> dict[str, Any]:
    name = job_name(properties.get("JobPrefix") or properties["ModelName"], request_id)
    create_unless_there(
        client("sagemaker").create_transform_job, transform_job_request(properties, name), f"transform job {name}"
    )
    logger.info("transform job %s started (or already running)", name)
    return {
        "PhysicalResourceId": name,
        "Data": {"JobName": name, "OutputLocation": _s3(properties["OutputLocation"])},
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Event from invoke_on_deploy: {"RequestType", "RequestId", "ResourceProperties"}."""
    return start_transform_job(event["ResourceProperties"], event["RequestId"])
