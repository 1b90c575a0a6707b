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


def test_an_execution_running_at_the_stop_runs_again_after_the_restart(tmp_path, monkeypatch):
    import json
    import time

    from lambdas.shared.aws import client
    from local.emulator import stepfunctions

    state = tmp_path / persistence.STATE_FILE
    machine = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"done": True}, "End": True}}}
    with emulator.Emulator():
        monkeypatch.setattr(stepfunctions, "_run_execution", lambda *_: None)  # the stop comes while it runs
        arn = client("stepfunctions").create_state_machine(
            name="waiter", definition=json.dumps(machine), roleArn="arn:aws:iam::123456789012:role/waiter"
        )["stateMachineArn"]
        execution = client("stepfunctions").start_execution(stateMachineArn=arn)["executionArn"]
        persistence.dump(state, "single-account", settings=None, runner={})
        monkeypatch.undo()
    with emulator.Emulator():
        persistence.load(state, "single-account")
        assert client("stepfunctions").describe_execution(executionArn=execution)["status"] == "RUNNING"
        assert stepfunctions.resume_running_executions() == [execution]
        deadline = time.monotonic() + 10
        while client("stepfunctions").describe_execution(executionArn=execution)["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        described = client("stepfunctions").describe_execution(executionArn=execution)
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"done": True})


def test_commits_made_while_local_mode_was_down_are_one_push_from_the_last_processed(tmp_path):
    from local.git_trigger import GitWatcher, git, init_repository
    from local.session import LocalOrchestrator

    repository = tmp_path / "repo"
    init_repository(repository)
    git(repository, "commit", "--allow-empty", "--quiet", "-m", "processed before the stop")
    processed = git(repository, "rev-parse", "HEAD")
    git(repository, "commit", "--allow-empty", "--quiet", "-m", "made while local mode was down")
    head = git(repository, "rev-parse", "HEAD")

    pushes: list[dict] = []
    orchestrator = LocalOrchestrator(templates=tmp_path, git_repository=repository)
    orchestrator.git_watcher = GitWatcher(repository, pushes.append)
    orchestrator._catch_up_on_commits(processed)
    orchestrator.git_watcher.check()

    assert [(p["detail"].get("oldCommitId"), p["detail"]["commitId"]) for p in pushes] == [(processed, head)]

    # A kept commit that is gone from the repository (history rewritten) is said, and nothing is guessed.
    pushes.clear()
    orchestrator.git_watcher = GitWatcher(repository, pushes.append)
    orchestrator._catch_up_on_commits("0" * 40)
    orchestrator.git_watcher.check()
    assert pushes == []


def test_the_lock_names_the_api_of_a_live_holder_only(tmp_path):
    """How a command given no endpoint finds a local mode on another port: the API its state directory's lock names,
    while the process holding it lives."""
    import subprocess
    import sys

    lock = persistence.StateDirLock(tmp_path / persistence.LOCK_FILE)
    lock.acquire()
    try:
        assert persistence.holder_api(tmp_path) is None  # not serving yet
        lock.describe_holder("http://127.0.0.1:8123")
        assert persistence.holder_api(tmp_path) == "http://127.0.0.1:8123"
    finally:
        lock.release()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / persistence.LOCK_FILE).write_text(f"pid {gone.stdout.strip()}, API http://127.0.0.1:8123")
    assert persistence.holder_api(tmp_path) is None  # its process is gone
    assert persistence.holder_api(tmp_path / "nothing-here") is None
