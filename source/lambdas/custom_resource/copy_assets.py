# SPDX-License-Identifier: Apache-2.0
"""Custom resource: copy the blueprints (templates and Lambda zips) from the distribution bucket.

On Create and Update it downloads `blueprints.zip` (`SourceBucket`/`SourceKey`) and writes every file in it
under `DestinationPrefix` of `DestinationBucket`, so the orchestrator finds `blueprints/<template>` and the
blueprint stacks find `blueprints/lambdas/<asset>.zip`. Delete does nothing: the bucket keeps its versions.
Runs behind CDK's Provider framework, which reports the answer (or the raised error) to CloudFormation.
"""

from __future__ import annotations

import io
import mimetypes
import posixpath
import zipfile
from typing import Any

from lambdas.shared.aws import client
from lambdas.shared.logging import get_logger

logger = get_logger(__name__)

REQUIRED = ("SourceBucket", "SourceKey", "DestinationBucket", "DestinationPrefix")


class InvalidArchive(ValueError):
    """The blueprints archive holds a path that would leave the destination prefix."""


def _content_type(name: str) -> str:
    if name.endswith((".yaml", ".yml")):
        return "application/x-yaml"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _entries(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    entries = [info for info in archive.infolist() if not info.is_dir()]
    for info in entries:
        normalized = posixpath.normpath(info.filename)
        if info.filename.startswith("/") or normalized.startswith("..") or normalized != info.filename:
            raise InvalidArchive(f"refusing archive entry {info.filename!r}: not a plain relative path")
    return entries


def copy_blueprints(source_bucket: str, source_key: str, destination_bucket: str, prefix: str) -> list[str]:
    """Copy every file of the archive under `prefix`; returns the keys written, in archive order."""
    s3 = client("s3")
    body = s3.get_object(Bucket=source_bucket, Key=source_key)["Body"].read()
    written = []
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        for info in _entries(archive):
            key = f"{prefix}{info.filename}"
            s3.put_object(
                Bucket=destination_bucket,
                Key=key,
                Body=archive.read(info),
                ContentType=_content_type(info.filename),
            )
            written.append(key)
    logger.info(
        "copied %d files from s3://%s/%s to s3://%s/%s",
        len(written),
        source_bucket,
        source_key,
        destination_bucket,
        prefix,
    )
    return written


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["RequestType"]
    properties = event.get("ResourceProperties", {})
    physical_id = event.get("PhysicalResourceId")
    if request == "Delete":
        return {"PhysicalResourceId": physical_id}
    missing = [name for name in REQUIRED if not properties.get(name) and name != "DestinationPrefix"]
    if missing:
        raise ValueError(f"missing resource properties: {', '.join(missing)}")
    prefix = properties.get("DestinationPrefix", "")
    written = copy_blueprints(
        properties["SourceBucket"], properties["SourceKey"], properties["DestinationBucket"], prefix
    )
    return {
        "PhysicalResourceId": f"{properties['DestinationBucket']}/{prefix}",
        "Data": {"FilesCopied": str(len(written))},
    }
