# SPDX-License-Identifier: Apache-2.0
"""The local pipeline runner's CloudFormation deploy action, among many stacks (the listing is paged)."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile

import boto3
import pytest
from moto import mock_aws
from moto.cloudformation.models import cloudformation_backends

from local.runner import LocalPipeline, PipelineRunner
from local.template_resolver import StackContext

SOURCE_BUCKET, SOURCE_KEY = "pipeline-source", "blueprint/template.zip"
TARGET = "mlops-pipeline-churn-modeltraining"


def template(marker: str) -> str:
    return json.dumps({"Resources": {marker: {"Type": "AWS::Logs::LogGroup"}}})


def deploy_pipeline() -> LocalPipeline:
    definition = {
        "Stages": [
            {
                "Name": "Source",
                "Actions": [
                    {
                        "Name": "S3Source",
                        "ActionTypeId": {"Category": "Source", "Provider": "S3"},
                        "Configuration": {"S3Bucket": SOURCE_BUCKET, "S3ObjectKey": SOURCE_KEY},
                        "OutputArtifacts": [{"Name": "Template"}],
                    }
                ],
            },
            {
                "Name": "Deploy",
                "Actions": [
                    {
                        "Name": "deploy_stack",
                        "ActionTypeId": {"Category": "Deploy", "Provider": "CloudFormation"},
                        "Configuration": {"StackName": TARGET, "TemplatePath": "Template::template.json"},
                        "InputArtifacts": [{"Name": "Template"}],
                    }
                ],
            },
        ]
    }
    context = StackContext({}, {}, "mlops-pipeline-x", "stack-id", "us-east-1", "123456789012")
    return LocalPipeline("churn-pipeline", "mlops-pipeline-x", definition, context)


def upload_source(body: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("template.json", body)
    boto3.client("s3").put_object(Bucket=SOURCE_BUCKET, Key=SOURCE_KEY, Body=buffer.getvalue())


def run_to_end(runner: PipelineRunner, pipeline: LocalPipeline) -> None:
    runner._maybe_start(pipeline)
    for _ in range(10):
        execution = pipeline.latest
        assert execution is not None
        if execution.status != "InProgress":
            return
        runner._advance(pipeline, execution)
    raise AssertionError("the execution did not end")


@pytest.fixture
def scene():
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=SOURCE_BUCKET)
        boto3.client("s3").put_bucket_versioning(Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield PipelineRunner(), deploy_pipeline()


def test_a_second_deploy_updates_the_stack_even_when_it_is_not_on_the_first_page_of_stacks(scene):
    runner, pipeline = scene
    cloudformation = boto3.client("cloudformation")
    # More stacks than one DescribeStacks page holds, created before the target.
    for index in range(60):
        cloudformation.create_stack(StackName=f"other-{index}", TemplateBody=template("Other"))
    upload_source(template("First"))
    run_to_end(runner, pipeline)
    assert pipeline.latest.status == "Succeeded"

    upload_source(template("Second"))
    run_to_end(runner, pipeline)

    action = pipeline.latest.stages[1].actions[0]
    assert (pipeline.latest.status, action.status) == ("Succeeded", "Succeeded"), action.summary
    resources = cloudformation.list_stack_resources(StackName=TARGET)["StackResourceSummaries"]
    assert [r["LogicalResourceId"] for r in resources] == ["Second"]


@pytest.mark.parametrize("failed_status", ["CREATE_FAILED", "ROLLBACK_COMPLETE"])
def test_a_stack_in_a_failed_state_is_deleted_and_created_again(scene, failed_status):
    runner, pipeline = scene
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName=TARGET, TemplateBody=template("Old"))
    stack_id = cloudformation.describe_stacks(StackName=TARGET)["Stacks"][0]["StackId"]
    cloudformation_backends["123456789012"]["us-east-1"].stacks[stack_id].status = failed_status

    upload_source(template("Fresh"))
    run_to_end(runner, pipeline)

    assert pipeline.latest.status == "Succeeded", pipeline.latest.stages[1].actions[0].summary
    stack = cloudformation.describe_stacks(StackName=TARGET)["Stacks"][0]
    assert (stack["StackId"] != stack_id, stack["StackStatus"]) == (True, "CREATE_COMPLETE")


def test_status_changes_of_pipeline_stacks_are_delivered_as_eventbridge_events(scene):
    delivered: list[dict] = []
    runner = PipelineRunner(on_stack_event=delivered.append)
    cloudformation = boto3.client("cloudformation")
    stack_id = cloudformation.create_stack(StackName=TARGET, TemplateBody=template("One"))["StackId"]
    cloudformation.create_stack(StackName="another-application", TemplateBody=template("Other"))

    runner.tick()
    runner.tick()  # nothing changed: nothing delivered again
    cloudformation.delete_stack(StackName=TARGET)
    runner.tick()

    assert [(e["detail-type"], e["resources"], e["detail"]["status-details"]["status"]) for e in delivered] == [
        ("CloudFormation Stack Status Change", [stack_id], "CREATE_COMPLETE"),
        ("CloudFormation Stack Status Change", [stack_id], "DELETE_COMPLETE"),
    ]


def test_a_failing_event_handler_does_not_stop_the_delivery_of_later_changes(scene):
    delivered: list[str] = []

    def handler(event: dict) -> None:
        status = event["detail"]["status-details"]["status"]
        if status == "CREATE_COMPLETE":
            raise RuntimeError("the orchestrator failed on this event")
        delivered.append(status)

    runner = PipelineRunner(on_stack_event=handler)
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName=TARGET, TemplateBody=template("One"))

    runner.tick()  # the failure is logged, not raised
    cloudformation.delete_stack(StackName=TARGET)
    runner.tick()

    assert delivered == ["DELETE_COMPLETE"]


def test_discoveries_from_two_threads_register_a_new_pipeline_once(scene, monkeypatch):
    """The API's thread discovers too (a pipeline created a moment ago); a second registration would replace
    the pipeline, and its running execution, with a fresh one."""
    runner, _ = scene
    pipeline_template = {
        "Resources": {
            "Pipeline": {
                "Type": "AWS::CodePipeline::Pipeline",
                "Properties": {"Name": "churn-pipeline", "Stages": deploy_pipeline().definition["Stages"]},
            }
        }
    }
    boto3.client("cloudformation").create_stack(
        StackName="mlops-pipeline-churn-codepipeline", TemplateBody=json.dumps(pipeline_template)
    )
    registrations: list[str] = []
    register = runner._register

    def slow_register(stack, known):
        registrations.append(stack["StackName"])
        time.sleep(0.3)  # both threads are inside discovery at once
        register(stack, known)

    monkeypatch.setattr(runner, "_register", slow_register)
    threads = [threading.Thread(target=runner.discover) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert registrations == ["mlops-pipeline-churn-codepipeline"]
    assert list(runner.pipelines) == ["churn-pipeline"]


def test_a_missing_source_object_fails_the_source_stage_at_once_with_the_reason(scene):
    delivered: list[dict] = []
    runner, pipeline = scene
    runner.on_pipeline_event = delivered.append

    run_to_end(runner, pipeline)  # nothing uploaded

    source = pipeline.latest.stages[0].actions[0]
    assert (pipeline.latest.status, source.status) == ("Failed", "Failed")
    assert source.summary.startswith(f"the source object s3://{SOURCE_BUCKET}/{SOURCE_KEY} cannot be read: NoSuchKey")
    assert [(e["detail-type"], e["detail"]["state"]) for e in delivered] == [
        ("CodePipeline Pipeline Execution State Change", "STARTED"),
        ("CodePipeline Stage Execution State Change", "STARTED"),
        ("CodePipeline Pipeline Execution State Change", "FAILED"),
    ]
    # The object written later starts the pipeline again, as S3's event would.
    upload_source(template("Late"))
    run_to_end(runner, pipeline)
    assert pipeline.latest.status == "Succeeded" and len(pipeline.executions) == 2


def approval_pipeline() -> LocalPipeline:
    pipeline = deploy_pipeline()
    approvals = [
        {"Name": f"Deploy{stage}", "ActionTypeId": {"Category": "Approval", "Provider": "Manual"}, "RunOrder": 2}
        for stage in ("Staging",)
    ]
    pipeline.definition["Stages"][0]["Actions"] += approvals
    return pipeline


def test_an_approval_is_answered_only_by_its_exact_action_and_token(scene):
    delivered: list[dict] = []
    runner = PipelineRunner(on_pipeline_event=delivered.append)
    pipeline = approval_pipeline()
    runner.pipelines[pipeline.name] = pipeline
    upload_source(template("One"))
    runner._maybe_start(pipeline)
    runner._advance(pipeline, pipeline.latest)
    waiting = pipeline.latest.stages[0].actions[1]
    assert waiting.status == "InProgress" and waiting.token
    assert delivered[-1]["detail"] == {
        "pipeline": pipeline.name,
        "execution-id": pipeline.latest.id,
        "state": "STARTED",
        "stage": "Source",
        "action": "DeployStaging",
        "type": {"owner": "AWS", "category": "Approval", "provider": "Manual"},
    }

    with pytest.raises(LookupError):
        runner.put_approval_result(pipeline.name, "Source", "DeployProd", waiting.token)
    with pytest.raises(PermissionError):
        runner.put_approval_result(pipeline.name, "Source", "DeployStaging", "another-token")
    assert waiting.status == "InProgress"

    runner.put_approval_result(pipeline.name, "Source", "DeployStaging", waiting.token, False, "not yet")
    runner._advance(pipeline, pipeline.latest)
    assert (waiting.status, waiting.summary, pipeline.latest.status) == ("Failed", "not yet", "Failed")


def test_the_journal_holds_transitions_and_the_log_lines_of_an_actions_function(scene, monkeypatch):
    import logging

    from lambdas.shared.logging import get_logger

    runner, pipeline = scene
    pipeline.definition["Stages"][1]["Actions"] = [
        {"Name": "DeployStaging", "ActionTypeId": {"Category": "Invoke", "Provider": "Lambda"}, "Configuration": {}}
    ]

    def function_runs(pipeline, execution, action):  # what our function does when the action invokes it
        get_logger("lambdas.blueprints.stackset_deployer").info("stack set churn-staging: RUNNING")
        logging.getLogger("botocore").info("not the function's line")
        action.set("Succeeded", "stack set churn-staging: SUCCEEDED")

    monkeypatch.setattr(runner, "_invoke_lambda", function_runs)
    monkeypatch.setattr(logging.getLogger("botocore"), "level", logging.INFO)  # a line that is not the function's
    upload_source(template("First"))
    run_to_end(runner, pipeline)

    journal = [(e["stage"], e["source"], e["message"]) for e in runner.journal["churn-pipeline"]]
    assert ("Deploy", "function", "DeployStaging: stack set churn-staging: RUNNING") in journal
    assert ("Deploy", "action", "DeployStaging: Succeeded stack set churn-staging: SUCCEEDED") in journal
    assert not any("not the function's line" in message for _, _, message in journal)
    assert journal[0][1:] == ("pipeline", f"execution {pipeline.latest.id} started")
    assert journal[-1][1:] == ("pipeline", f"execution {pipeline.latest.id} succeeded")


def _connection_pipeline(triggers: list[dict]) -> LocalPipeline:
    source = {
        "Name": "Source",
        "ActionTypeId": {"Category": "Source", "Owner": "AWS", "Provider": "CodeStarSourceConnection", "Version": "1"},
        "Configuration": {"BranchName": "main", "FullRepositoryId": "team/configs"},
    }
    definition = {"Stages": [{"Name": "Source", "Actions": [source]}], "Triggers": triggers}
    context = StackContext({"Resources": {}}, {}, "s", "arn:aws:cloudformation:us-east-1:1:stack/s/1", "us-east-1", "1")
    return LocalPipeline("config-source", "s", definition, context)


def test_a_connection_pipeline_starts_only_on_what_its_push_filters_name():
    push = {"Branches": {"Includes": ["main", "release/*"]}, "FilePaths": {"Includes": ["mlops-config.json"]}}
    pipeline = _connection_pipeline(
        [{"ProviderType": "CodeStarSourceConnection", "GitConfiguration": {"Push": [push]}}]
    )
    assert pipeline.connection_source()["Configuration"]["FullRepositoryId"] == "team/configs"
    assert pipeline.triggered_by("main", {"README.md", "mlops-config.json"})
    assert pipeline.triggered_by("release/1.2", {"mlops-config.json"})
    assert not pipeline.triggered_by("main", {"README.md", "team/mlops-config.json"})
    assert not pipeline.triggered_by("feature", {"mlops-config.json"})
    excluded = {"FilePaths": {"Includes": ["*.json"], "Excludes": ["mlops-config.result.json"]}}
    pipeline = _connection_pipeline([{"GitConfiguration": {"Push": [excluded]}}])
    assert not pipeline.triggered_by("main", {"mlops-config.result.json"})
    assert pipeline.triggered_by("main", {"mlops-config.json"})
    assert _connection_pipeline([]).triggered_by("main", {"anything"})  # no filter: every push


def test_a_connection_source_without_a_local_repository_fails_with_the_reason():
    from local.runner import ActionRun, Execution

    pipeline = _connection_pipeline([])
    action = ActionRun("Source", pipeline.definition["Stages"][0]["Actions"][0])
    PipelineRunner()._source_connection(pipeline, Execution("e", [], source_version="abc"), action)
    assert action.status == "Failed"
    assert (
        action.summary == "no local git repository stands in for team/configs@main (start local mode with --git-repo)"
    )


def test_a_push_while_the_connection_pipeline_runs_starts_it_once_the_run_has_ended(tmp_path):
    from local.git_trigger import git, init_repository
    from local.runner import Execution

    init_repository(tmp_path)

    def commit(name: str) -> str:
        (tmp_path / name).write_text(name)
        git(tmp_path, "add", name)
        git(tmp_path, "commit", "--quiet", "-m", name)
        return git(tmp_path, "rev-parse", "HEAD")

    push = {"FilePaths": {"Includes": ["mlops-config.json"]}}
    pipeline = _connection_pipeline([{"GitConfiguration": {"Push": [push]}}])
    runner = PipelineRunner(git_repository=tmp_path)
    source = pipeline.connection_source()
    first = commit("mlops-config.json")
    assert runner._connection_version(pipeline, source) == first  # a new pipeline runs at once
    pipeline.executions.append(Execution("e1", [], status="InProgress", source_version=first))
    assert runner._connection_version(pipeline, source) == first
    commit("README.md")
    assert runner._connection_version(pipeline, source) is None  # the filter names no changed path
    (tmp_path / "mlops-config.json").write_text("changed")
    git(tmp_path, "commit", "--quiet", "-am", "change")
    second = git(tmp_path, "rev-parse", "HEAD")
    for _ in range(3):  # asked on every step while e1 runs: still the commit to start from next
        assert runner._connection_version(pipeline, source) == second


def test_finished_operations_of_pipeline_stack_sets_are_delivered_once_in_aws_shape(scene):
    """As EventBridge sends "CloudFormation StackSet Operation Status Change": one event per finished operation of
    a mlops-pipeline StackSet, none for other StackSets, none twice."""
    delivered: list[dict] = []
    runner = PipelineRunner(on_stack_event=delivered.append)
    cloudformation = boto3.client("cloudformation")
    for name in ("mlops-pipeline-churn-staging", "another-application"):
        cloudformation.create_stack_set(StackSetName=name, TemplateBody=template("One"))
    operation = cloudformation.create_stack_instances(
        StackSetName="mlops-pipeline-churn-staging", Accounts=["123456789012"], Regions=["us-east-1"]
    )["OperationId"]
    cloudformation.create_stack_instances(
        StackSetName="another-application", Accounts=["123456789012"], Regions=["us-east-1"]
    )
    arn = cloudformation.describe_stack_set(StackSetName="mlops-pipeline-churn-staging")["StackSet"]["StackSetARN"]

    runner.tick()
    runner.tick()  # nothing new finished: nothing delivered again

    (event,) = [e for e in delivered if e["detail-type"] != "CloudFormation Stack Status Change"]
    assert (event["source"], event["detail-type"], event["resources"]) == (
        "aws.cloudformation",
        "CloudFormation StackSet Operation Status Change",
        [arn],
    )
    assert event["detail"] == {
        "stack-set-arn": arn,
        "stack-set-operation-id": operation,
        "status-details": {"status": "SUCCEEDED"},
    }


def test_a_new_pipeline_runs_at_once_but_a_removed_source_starts_nothing(scene):
    """CodePipeline runs a new pipeline at creation (its S3 source then fails when the object is missing); later
    runs start on the source's "Object Created" events, so removing the object starts none."""
    runner, pipeline = scene
    run_to_end(runner, pipeline)
    assert (len(pipeline.executions), pipeline.latest.status) == (1, "Failed")  # the run at creation: no source
    upload_source(template("First"))
    run_to_end(runner, pipeline)
    assert (len(pipeline.executions), pipeline.latest.status) == (2, "Succeeded")

    boto3.client("s3").delete_object(Bucket=SOURCE_BUCKET, Key=SOURCE_KEY)
    runner._maybe_start(pipeline)

    assert (len(pipeline.executions), pipeline.latest.status) == (2, "Succeeded")


def test_an_action_failure_never_quotes_a_raw_emulator_answer():
    from botocore.parsers import ResponseParserError

    from local.runner import failure_reason

    page = ResponseParserError(
        "Unable to parse response: b'<!doctype html>\\n<title>500 Internal Server Error</title>'"
    )
    reason = failure_reason(page)
    assert "<" not in reason and "internal error, not an AWS answer" in reason and "log" in reason
    assert failure_reason(ValueError("stack x: CREATE_FAILED")) == "ValueError: stack x: CREATE_FAILED"


def test_a_stack_deleted_and_created_again_under_its_name_is_registered_once(scene, monkeypatch):
    """Pipelines are keyed by stack id: the recreated stack's pipeline replaces the deleted one's, and discovery
    does not register it again (with no executions) on every tick."""
    runner, _ = scene
    cloudformation = boto3.client("cloudformation")

    def create(pipeline_name: str) -> None:
        body = {
            "Resources": {
                "Pipeline": {
                    "Type": "AWS::CodePipeline::Pipeline",
                    "Properties": {"Name": pipeline_name, "Stages": deploy_pipeline().definition["Stages"]},
                }
            }
        }
        cloudformation.create_stack(StackName="mlops-pipeline-churn-codepipeline", TemplateBody=json.dumps(body))

    create("churn-pipeline-1")
    runner.discover()
    cloudformation.delete_stack(StackName="mlops-pipeline-churn-codepipeline")
    create("churn-pipeline-2")  # its physical name differs, as a generated one would
    registrations: list[str] = []
    register = runner._register

    def counted(stack, known):
        registrations.append(stack["StackId"])
        register(stack, known)

    monkeypatch.setattr(runner, "_register", counted)
    for _ in range(3):
        runner.discover()
    assert len(registrations) == 1
    assert list(runner.pipelines) == ["churn-pipeline-2"]
