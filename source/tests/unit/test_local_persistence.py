# SPDX-License-Identifier: Apache-2.0
"""What a restart of local mode brings back from its state directory, beyond the pipelines themselves."""

from __future__ import annotations

from local import emulator, persistence

STAGE_ACCOUNT = "111122223333"


def test_every_object_version_and_delete_marker_survives_a_restart(tmp_path):
    """The rollback reads earlier versions of request.json and template.zip: a restart once kept only the newest."""
    from lambdas.shared.aws import client

    state = tmp_path / persistence.STATE_FILE
    with emulator.Emulator():
        s3 = client("s3")
        s3.create_bucket(Bucket="assets")
        s3.put_bucket_versioning(Bucket="assets", VersioningConfiguration={"Status": "Enabled"})
        for body in (b"first", b"second"):
            s3.put_object(Bucket="assets", Key="pipelines/churn/request.json", Body=body)
        s3.put_object(Bucket="assets", Key="pipelines/churn/template.zip", Body=b"zip")
        s3.delete_object(Bucket="assets", Key="pipelines/churn/template.zip")
        before = s3.list_object_versions(Bucket="assets")
        persistence.dump(state, "single-account", settings=None, runner={})
    with emulator.Emulator():
        persistence.load(state, "single-account")
        s3 = client("s3")
        after = s3.list_object_versions(Bucket="assets")
        versions = [v["VersionId"] for v in after["Versions"] if v["Key"].endswith("request.json")]
        oldest = s3.get_object(Bucket="assets", Key="pipelines/churn/request.json", VersionId=versions[-1])
        assert oldest["Body"].read() == b"first"
        s3.put_object(Bucket="assets", Key="pipelines/churn/request.json", Body=b"third")  # versions go on
        third = s3.list_object_versions(Bucket="assets", Prefix="pipelines/churn/request.json")["Versions"]

    def kept(listing: dict) -> list[tuple[str, str, bool]]:
        return [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listing.get("Versions", [])]

    assert kept(after) == kept(before) and len(kept(after)) == 3
    assert [(m["Key"], m["VersionId"]) for m in after["DeleteMarkers"]] == [
        (m["Key"], m["VersionId"]) for m in before["DeleteMarkers"]
    ]
    assert len(third) == 3


def test_a_bucket_of_another_account_is_found_after_a_restart(tmp_path):
    """A restarted multi-account local mode failed every StackSet deploy: GetObject … NoSuchBucket. moto finds a
    bucket of another account through a registry of names that the restored backends had not filled."""
    from moto.s3.models import s3_backends

    from lambdas.shared.aws import client

    state = tmp_path / persistence.STATE_FILE
    with emulator.Emulator():
        stage = s3_backends[STAGE_ACCOUNT]["aws"]
        stage.create_bucket("stage-assets", "us-east-1")
        stage.put_object("stage-assets", "code.zip", b"code")
        persistence.dump(state, "multi-account", settings=None, runner={})
    with emulator.Emulator():
        persistence.load(state, "multi-account")
        body = client("s3").get_object(Bucket="stage-assets", Key="code.zip")["Body"].read()
    assert body == b"code"
