# SPDX-License-Identifier: Apache-2.0
"""The copy-assets custom resource: blueprints.zip from the distribution bucket into the blueprints bucket."""

from __future__ import annotations

import io
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdas.custom_resource import copy_assets
from lambdas.shared.aws import reset_clients

DIST = "dist-us-east-1"
KEY = "mlops-orchestrator/v1.0.0/blueprints.zip"
BLUEPRINTS = "blueprints-bucket"
ARCHIVE = {
    "byom_batch_pipeline.yaml": b"Resources: {}\n",
    "single_account_codepipeline.yaml": b'{"Resources": {}}',
    "lambdas/0123abcd.zip": b"PK\x05\x06" + b"\x00" * 18,
}


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _event(request: str, **properties: str) -> dict:
    event = {
        "RequestType": request,
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
            "SourceBucket": DIST,
            "SourceKey": KEY,
            "DestinationBucket": BLUEPRINTS,
            "DestinationPrefix": "blueprints/",
            **properties,
        },
    }
    if request != "Create":
        event["PhysicalResourceId"] = f"{BLUEPRINTS}/blueprints/"
    return event


@pytest.fixture
def s3():
    with mock_aws():
        reset_clients()
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (DIST, BLUEPRINTS):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=DIST, Key=KEY, Body=_zip(ARCHIVE))
        yield s3
    reset_clients()


def _objects(s3, bucket: str = BLUEPRINTS) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_copy_every_file_under_the_prefix(s3, request_type):
    answer = copy_assets.handler(_event(request_type), None)

    assert _objects(s3) == {f"blueprints/{name}": content for name, content in ARCHIVE.items()}
    assert answer == {"PhysicalResourceId": f"{BLUEPRINTS}/blueprints/", "Data": {"FilesCopied": "3"}}


def test_templates_are_stored_as_yaml_and_zips_as_zip(s3):
    copy_assets.handler(_event("Create"), None)

    template = s3.head_object(Bucket=BLUEPRINTS, Key="blueprints/byom_batch_pipeline.yaml")
    code = s3.head_object(Bucket=BLUEPRINTS, Key="blueprints/lambdas/0123abcd.zip")
    assert template["ContentType"] == "application/x-yaml"
    assert code["ContentType"] == "application/zip"


def test_update_overwrites_files_of_the_previous_version(s3):
    s3.put_object(Bucket=BLUEPRINTS, Key="blueprints/byom_batch_pipeline.yaml", Body=b"old")

    copy_assets.handler(_event("Update"), None)

    assert _objects(s3)["blueprints/byom_batch_pipeline.yaml"] == ARCHIVE["byom_batch_pipeline.yaml"]


def test_delete_does_nothing_and_keeps_the_physical_id(s3):
    copy_assets.handler(_event("Create"), None)

    answer = copy_assets.handler(_event("Delete"), None)

    assert answer == {"PhysicalResourceId": f"{BLUEPRINTS}/blueprints/"}
    assert len(_objects(s3)) == len(ARCHIVE)


def test_delete_succeeds_even_when_the_source_is_gone(s3):
    s3.delete_object(Bucket=DIST, Key=KEY)

    assert copy_assets.handler(_event("Delete"), None)["PhysicalResourceId"] == f"{BLUEPRINTS}/blueprints/"


def test_missing_archive_fails_the_resource_with_the_s3_error(s3):
    with pytest.raises(ClientError) as error:
        copy_assets.handler(_event("Create", SourceKey="mlops-orchestrator/v9/blueprints.zip"), None)

    assert error.value.response["Error"]["Code"] == "NoSuchKey"
    assert _objects(s3) == {}


def test_missing_properties_are_named(s3):
    event = _event("Create")
    del event["ResourceProperties"]["SourceBucket"]
    event["ResourceProperties"]["DestinationBucket"] = ""

    with pytest.raises(ValueError, match="SourceBucket, DestinationBucket"):
        copy_assets.handler(event, None)


@pytest.mark.parametrize("entry", ["../escape.yaml", "/absolute.yaml", "lambdas/../../x.zip"])
def test_archive_entries_outside_the_prefix_are_refused_before_any_write(s3, entry):
    s3.put_object(Bucket=DIST, Key=KEY, Body=_zip({"byom_batch_pipeline.yaml": b"x", entry: b"y"}))

    with pytest.raises(copy_assets.InvalidArchive, match="not a plain relative path"):
        copy_assets.handler(_event("Create"), None)

    assert _objects(s3) == {}


def test_directory_entries_are_skipped(s3):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambdas/", b"")
        archive.writestr("lambdas/a.zip", b"a")
    s3.put_object(Bucket=DIST, Key=KEY, Body=buffer.getvalue())

    copy_assets.handler(_event("Create"), None)

    assert list(_objects(s3)) == ["blueprints/lambdas/a.zip"]
