# SPDX-License-Identifier: Apache-2.0
"""A CodePipeline job's input artifact, read with the job's own credentials, and the check that it is what the
orchestrator wrote: its SHA-256 must equal the one the orchestrator recorded (object metadata) on the version of
template.zip that the source stage pinned. Versions are immutable and that prefix is written by the orchestrator
alone, so an artifact rewritten after the source stage is refused. The StackSet deployer and the single-account
wrapper's verification action both deploy nothing else."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from botocore.exceptions import ClientError

from lambdas.shared.aws import client

# The metadata in which the orchestrator records template.zip's SHA-256 (the provisioner writes it).
CONTENT_HASH_METADATA = "content-sha256"


class ArtifactRejected(Exception):
    """The input artifact is missing or is not what the orchestrator wrote; the message is what the pipeline shows."""


def read_input_artifact(job_data: dict[str, Any], name: str) -> tuple[bytes, str]:
    """The bytes of the job's input artifact `name` and its revision (for an S3 source, the version it pinned)."""
    artifact = next((a for a in job_data.get("inputArtifacts", []) if a.get("name") == name), None)
    if artifact is None:
        raise ArtifactRejected(f"The action has no input artifact named {name}")
    location = artifact["location"]["s3Location"]
    credentials = job_data["artifactCredentials"]
    import boto3  # a one-off client: the artifact credentials belong to this job only

    s3 = boto3.session.Session(
        aws_access_key_id=credentials["accessKeyId"],
        aws_secret_access_key=credentials["secretAccessKey"],
        aws_session_token=credentials["sessionToken"],
    ).client("s3", region_name=os.environ.get("AWS_REGION"))
    body = s3.get_object(Bucket=location["bucketName"], Key=location["objectKey"])["Body"].read()
    return body, artifact.get("revision", "")


def verify_artifact(body: bytes, revision: str, source_bucket: str, source_key: str) -> str:
    """Fail unless `body` is the template.zip version the source stage pinned, as the orchestrator wrote it; the
    verified SHA-256 otherwise.

    For an S3 source, CodePipeline gives the object's version id as the input artifact's `revision`
    (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_Artifact.html); a version's content and
    metadata never change (https://docs.aws.amazon.com/AmazonS3/latest/userguide/versioning-workflows.html)."""
    where = f"s3://{source_bucket}/{source_key}"
    if not revision:
        raise ArtifactRejected(f"The source stage pinned no version of {where}: the artifact cannot be verified")
    try:
        head = client("s3").head_object(Bucket=source_bucket, Key=source_key, VersionId=revision)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise ArtifactRejected(
            f"Version {revision} of {where} cannot be read ({code}): the artifact cannot be verified"
        ) from None
    recorded = (head.get("Metadata") or {}).get(CONTENT_HASH_METADATA, "")
    if not recorded:
        raise ArtifactRejected(
            f"Version {revision} of {where} carries no {CONTENT_HASH_METADATA} recorded by the orchestrator: "
            "provision the pipeline again"
        )
    actual = hashlib.sha256(body).hexdigest()
    if actual != recorded:
        raise ArtifactRejected(
            f"The artifact's SHA-256 {actual} is not the {recorded} the orchestrator recorded for version "
            f"{revision} of {where}: it was changed after the orchestrator wrote it, and is not deployed"
        )
    return actual
