# SPDX-License-Identifier: Apache-2.0
"""The emulator's stand-ins for what moto does not do: Step Functions executions and baseline reports."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import pytest

from local import emulator
from local.emulator import sagemaker, stepfunctions

# The waiter loop of a monitor's baseline, as CDK writes it.
WAITER = {
    "StartAt": "Pause",
    "States": {
        "Pause": {"Type": "Wait", "Seconds": 60, "Next": "CheckBaseline"},
        "CheckBaseline": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:111111111111:function:poller",
            "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 6}],
            "Next": "Finished?",
        },
        "Finished?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "Answered"}],
            "Default": "Pause",
        },
        "Answered": {"Type": "Succeed"},
    },
}


def execution(data: Any) -> SimpleNamespace:
    return SimpleNamespace(
        execution_input=json.dumps(data),
        status="RUNNING",
        account_id="111111111111",
        region_name="us-east-1",
        output=None,
        error=None,
        cause=None,
        stop_date=None,
    )


def test_the_waiter_loop_polls_until_done_with_shortened_waits(monkeypatch: pytest.MonkeyPatch):
    calls: list[tuple[str, str]] = []

    def run_task(state: dict[str, Any], data: Any, account_id: str, region: str) -> Any:
        calls.append((state["Resource"], account_id))
        return {**data, "done": len(calls) == 3}

    monkeypatch.setattr(stepfunctions, "_run_task", run_task)
    monkeypatch.setattr(stepfunctions, "WAIT_SECONDS_CAP", 0.01)
    run = execution({"event": {"RequestId": "r"}})
    started = time.monotonic()
    stepfunctions._run_execution(json.dumps(WAITER), run)
    assert time.monotonic() - started < 5
    assert run.status == "SUCCEEDED" and json.loads(run.output) == {"event": {"RequestId": "r"}, "done": True}
    assert calls == [(WAITER["States"]["CheckBaseline"]["Resource"], "111111111111")] * 3


def test_a_fail_state_fails_the_execution_with_its_error_and_cause():
    machine = {"StartAt": "Stop", "States": {"Stop": {"Type": "Fail", "Error": "Broken", "Cause": "why"}}}
    run = execution({})
    stepfunctions._run_execution(json.dumps(machine), run)
    assert (run.status, run.error, run.cause) == ("FAILED", "Broken", "why")


def test_a_state_the_emulator_does_not_run_fails_the_execution():
    machine = {"StartAt": "Many", "States": {"Many": {"Type": "Map", "End": True}}}
    run = execution({})
    stepfunctions._run_execution(json.dumps(machine), run)
    assert run.status == "FAILED" and "Map" in run.cause


def test_a_stopped_execution_stays_stopped(monkeypatch: pytest.MonkeyPatch):
    run = execution({})

    def run_task(state: dict[str, Any], data: Any, account_id: str, region: str) -> Any:
        run.status = "ABORTED"  # StopExecution while the task runs
        return {"done": False}

    monkeypatch.setattr(stepfunctions, "_run_task", run_task)
    monkeypatch.setattr(stepfunctions, "WAIT_SECONDS_CAP", 0.0)
    stepfunctions._run_execution(json.dumps(WAITER), run)
    assert run.status == "ABORTED"


def test_choices_compare_as_step_functions_does():
    data = {"done": True, "kind": "x", "n": 2}
    assert stepfunctions._matches({"Variable": "$.done", "BooleanEquals": True}, data)
    assert not stepfunctions._matches({"Variable": "$.n", "BooleanEquals": True}, {"n": 1})
    assert stepfunctions._matches(
        {"And": [{"Variable": "$.kind", "StringEquals": "x"}, {"Variable": "$.n", "NumericEquals": 2}]}, data
    )
    assert stepfunctions._matches({"Not": {"Variable": "$.kind", "StringEquals": "y"}}, data)


def test_baseline_reports_name_the_baseline_columns():
    reports = sagemaker._data_quality_reports(["label", "age"])
    assert set(reports) == {"statistics.json", "constraints.json"}
    assert [f["name"] for f in reports["constraints.json"]["features"]] == ["label", "age"]
    assert "regression_constraints" in sagemaker._model_quality_constraints("Regression")
    assert "binary_classification_constraints" in sagemaker._model_quality_constraints("BinaryClassification")
    analysis = sagemaker._clarify_analysis(["label", "age", "income"])
    assert set(analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]) == {"age", "income"}


def test_a_fault_of_the_emulator_fails_the_execution_as_the_error_it_is(monkeypatch, caplog):
    def broken(state: dict[str, Any], data: Any, account_id: str, region: str) -> Any:
        raise ValueError("the emulator misread the task")

    monkeypatch.setattr(stepfunctions, "_run_task", broken)
    run = execution({})
    run.execution_arn = "arn:aws:states:us-east-1:111111111111:execution:waiter:r"
    stepfunctions._run_execution(json.dumps(WAITER), run)
    assert (run.status, run.error, run.cause) == ("FAILED", "ValueError", "the emulator misread the task")
    assert any(run.execution_arn in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_definition_naming_a_missing_state_fails_as_step_functions_says():
    machine = {"StartAt": "First", "States": {"First": {"Type": "Pass", "Next": "Nowhere"}}}
    run = execution({})
    stepfunctions._run_execution(json.dumps(machine), run)
    assert (run.status, run.error) == ("FAILED", "States.Runtime")
    assert run.cause == "the definition has no state named 'Nowhere'"


def test_baseline_columns_pass_over_inputs_that_are_not_the_data():
    from moto.s3.models import s3_backends

    s3 = s3_backends["111111111111"]["aws"]
    s3.create_bucket("data", "us-east-1")
    s3.put_object("data", "baseline/data.csv", b"label,age\n1,30\n")
    inputs = [
        {"S3Input": {"S3Uri": "s3://no-such-bucket/x.csv"}},
        {"S3Input": {"S3Uri": "s3://data/baseline/"}},
        {"S3Input": {"S3Uri": "s3://data/baseline/data.csv"}},
    ]
    try:
        assert sagemaker._baseline_columns(s3, inputs) == ["label", "age"]
        assert sagemaker._baseline_columns(s3, inputs[:2]) == ["_c0", "_c1"]
    finally:
        s3.reset()


def test_an_unexpected_error_reading_the_baseline_data_is_not_hidden():
    class Unreadable:
        def get_object(self, bucket: str, key: str) -> Any:
            raise PermissionError("the emulator's store cannot be read")

    with pytest.raises(PermissionError):
        sagemaker._baseline_columns(Unreadable(), [{"S3Input": {"S3Uri": "s3://data/baseline.csv"}}])


def test_stopping_the_emulator_gives_moto_back_its_own_behaviour():
    """The unit tests use moto in process after local mode has run: they must meet moto as it is."""
    from moto.cloudformation.models import StackInstance
    from moto.sagemaker.responses import SageMakerResponse

    def moto_as_it_is() -> tuple:
        return (
            vars(SageMakerResponse).get("create_processing_job"),
            vars(SageMakerResponse).get("describe_monitoring_schedule"),
            vars(StackInstance).get("__init__"),
        )

    before = moto_as_it_is()
    with emulator.Emulator():
        assert moto_as_it_is() != before

    assert moto_as_it_is() == before


def test_custom_resource_answers_name_loopback_and_no_docker_is_asked(capfd):
    from moto import settings
    from moto.cloudformation.custom_model import CustomModel

    own = (settings.moto_server_host, vars(CustomModel).get("update_from_cloudformation_json"))
    with emulator.Emulator():
        assert settings.moto_server_host() == "http://127.0.0.1"
        assert "update_from_cloudformation_json" in vars(CustomModel)  # an update reaches the resource's Lambda
    assert "Docker" not in capfd.readouterr().out
    assert (settings.moto_server_host, vars(CustomModel).get("update_from_cloudformation_json")) == own


def _api_stack_template() -> str:
    """A REST API whose deployment depends on its method, which waits for a topic; an output reads the deployment."""
    method = {
        "RestApiId": {"Ref": "Api"},
        "ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
        "HttpMethod": "GET",
        "AuthorizationType": "NONE",
        "Integration": {"Type": "MOCK", "IntegrationHttpMethod": "GET", "Uri": "http://127.0.0.1/"},
    }
    resources = {
        "Deployment": {
            "Type": "AWS::ApiGateway::Deployment",
            "Properties": {"RestApiId": {"Ref": "Api"}},
            "DependsOn": ["Method"],
        },
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
        "Method": {"Type": "AWS::ApiGateway::Method", "Properties": method, "DependsOn": ["Topic"]},
        "Topic": {"Type": "AWS::SNS::Topic"},
    }
    return json.dumps({"Resources": resources, "Outputs": {"Deployment": {"Value": {"Ref": "Deployment"}}}})


def test_a_stack_described_while_it_is_being_created_is_answered(monkeypatch: pytest.MonkeyPatch):
    """moto creates a resource when a read first touches it: a status request during a deploy once created an API
    deployment before its methods and answered "The REST API doesn't contain any methods"."""
    import threading

    from moto.sns.models import Topic

    from lambdas.shared.aws import client

    creating, go_on = threading.Event(), threading.Event()
    original = Topic.create_from_cloudformation_json

    def slow_topic(cls: Any, *args: Any, **kwargs: Any) -> Any:
        creating.set()
        go_on.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(Topic, "create_from_cloudformation_json", classmethod(slow_topic))
    with emulator.Emulator():
        outcome: dict[str, Any] = {}

        def run(name: str, call: Any) -> None:
            try:
                outcome[name] = call()
            except Exception as error:
                outcome[name] = error

        cloudformation = client("cloudformation")
        create = threading.Thread(
            target=run,
            args=("create", lambda: cloudformation.create_stack(StackName="api", TemplateBody=_api_stack_template())),
        )
        create.start()
        assert creating.wait(10)
        describe = threading.Thread(target=run, args=("describe", lambda: client("cloudformation").describe_stacks()))
        describe.start()
        time.sleep(0.3)  # the read arrives while the topic, and so the method, is still being created
        go_on.set()
        create.join(20)
        describe.join(20)

        assert not isinstance(outcome["create"], Exception), outcome["create"]
        assert not isinstance(outcome["describe"], Exception), outcome["describe"]
        stack = client("cloudformation").describe_stacks(StackName="api")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"


def test_a_model_card_export_is_refused_with_the_reason_not_a_bare_500():
    from botocore.exceptions import ClientError

    from lambdas.shared.aws import client

    with emulator.Emulator():
        sagemaker = client("sagemaker")
        sagemaker.create_model_card(ModelCardName="card", Content="{}", ModelCardStatus="Draft")
        with pytest.raises(ClientError) as refused:
            sagemaker.create_model_card_export_job(
                ModelCardName="card", ModelCardExportJobName="job", OutputConfig={"S3OutputPath": "s3://b/p"}
            )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "renders no PDF" in refused.value.response["Error"]["Message"]


def test_a_transform_job_fails_when_its_input_is_not_there_and_completes_when_it_is():
    from lambdas.shared.aws import client

    def transform(name: str, uri: str) -> dict[str, Any]:
        sagemaker.create_transform_job(
            TransformJobName=name,
            ModelName="model",
            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}},
            TransformOutput={"S3OutputPath": "s3://data/out"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
        return sagemaker.describe_transform_job(TransformJobName=name)

    with emulator.Emulator():
        sagemaker = client("sagemaker")
        client("s3").create_bucket(Bucket="data")
        client("s3").put_object(Bucket="data", Key="batch/in.csv", Body=b"1,2\n")
        no_bucket = transform("no-bucket", "s3://missing-bucket/batch/in.csv")
        no_object = transform("no-object", "s3://data/elsewhere/")
        there = transform("there", "s3://data/batch/")
    assert (no_bucket["TransformJobStatus"], no_object["TransformJobStatus"]) == ("Failed", "Failed")
    assert "bucket missing-bucket does not exist" in no_bucket["FailureReason"]
    assert "no object under it" in no_object["FailureReason"]
    assert there["TransformJobStatus"] == "Completed"


def test_a_baseline_job_whose_data_is_not_there_fails_and_writes_no_report():
    from lambdas.shared.aws import client

    def baseline(name: str, data: str) -> dict[str, Any]:
        sagemaker.create_processing_job(
            ProcessingJobName=name,
            RoleArn="arn:aws:iam::123456789012:role/r",
            AppSpecification={
                "ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
            },
            ProcessingResources={
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}
            },
            ProcessingInputs=[
                {
                    "InputName": "baseline",
                    "S3Input": {"S3Uri": data, "LocalPath": "/in", "S3DataType": "S3Prefix", "S3InputMode": "File"},
                }
            ],
            ProcessingOutputConfig={
                "Outputs": [
                    {
                        "OutputName": "out",
                        "S3Output": {"S3Uri": f"s3://data/out/{name}", "LocalPath": "/out", "S3UploadMode": "EndOfJob"},
                    }
                ]
            },
        )
        return sagemaker.describe_processing_job(ProcessingJobName=name)

    with emulator.Emulator():
        sagemaker, s3 = client("sagemaker"), client("s3")
        s3.create_bucket(Bucket="data")
        s3.put_object(Bucket="data", Key="baseline.csv", Body=b"label,age\n1,45\n")
        missing = baseline("missing", "s3://data/nothing-here.csv")
        there = baseline("there", "s3://data/baseline.csv")
        written = {o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="out/").get("Contents", [])}
    assert missing["ProcessingJobStatus"] == "Failed"
    assert "s3://data/nothing-here.csv cannot be read: no object under it" in missing["FailureReason"]
    assert there["ProcessingJobStatus"] == "Completed"
    assert written == {"out/there/statistics.json", "out/there/constraints.json"}


def _monitor_stack_template() -> str:
    """A monitor's shape: the job definition waits for the baseline (a custom resource), the schedule for the job
    definition (by Ref)."""
    resources = {
        "Baseline": {
            "Type": "Custom::Baseline",
            "Properties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:baseline"},
        },
        "JobDefinition": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": "job-definition"},
            "DependsOn": "Baseline",
        },
        "Schedule": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": "schedule", "Tags": [{"Key": "definition", "Value": {"Ref": "JobDefinition"}}]},
        },
    }
    return json.dumps({"Resources": resources})


def _baseline_asked(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The events the baseline's function receives; it answers only when the test does."""
    from moto.cloudformation import custom_model

    asked: list[dict[str, Any]] = []
    function = SimpleNamespace(invoke=lambda event, *_: asked.append(json.loads(event)))
    monkeypatch.setattr(custom_model, "get_lambda_backend", lambda *_: SimpleNamespace(get_function=lambda _: function))
    return asked


def _answer(event: dict[str, Any], status: str, endpoint: str) -> None:
    """What a custom resource's function sends to the URL CloudFormation gave it."""
    import re
    import urllib.request

    body = {
        "Status": status,
        "Reason": "the baseline job could not start" if status == "FAILED" else "",
        "PhysicalResourceId": "baseline-1",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {},
    }
    url = re.sub(r"^https?://[^/]+", endpoint, event["ResponseURL"])
    payload = json.dumps(body).encode()
    request = urllib.request.Request(url, data=payload, method="PUT", headers={"Content-Type": ""})
    urllib.request.urlopen(request, timeout=10).close()


def _topics() -> set[str]:
    from lambdas.shared.aws import client

    return {topic["TopicArn"].rsplit(":", 1)[1] for topic in client("sns").list_topics()["Topics"]}


def test_a_custom_resource_holds_back_what_depends_on_it_until_it_answers(monkeypatch: pytest.MonkeyPatch):
    """A monitor's schedule once ran before its baseline answered: moto created the dependents at once."""
    from lambdas.shared.aws import client

    asked = _baseline_asked(monkeypatch)
    with emulator.Emulator() as running:
        endpoint = running.endpoint
        cloudformation = client("cloudformation")
        cloudformation.create_stack(StackName="monitor", TemplateBody=_monitor_stack_template())
        deadline = time.monotonic() + 10
        while not asked and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the answer is late: nothing that waits for it is created meanwhile
        stack = cloudformation.describe_stacks(StackName="monitor")["Stacks"][0]
        resources = cloudformation.list_stack_resources(StackName="monitor")["StackResourceSummaries"]
        assert stack["StackStatus"] == "CREATE_IN_PROGRESS"
        assert [r["LogicalResourceId"] for r in resources] == ["Baseline"]
        assert _topics() == set()

        _answer(asked[0], "SUCCESS", endpoint)

        stack = cloudformation.describe_stacks(StackName="monitor")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        assert _topics() == {"job-definition", "schedule"}


def test_a_failed_answer_fails_the_stack_and_creates_nothing_that_waits_for_it(monkeypatch: pytest.MonkeyPatch):
    from lambdas.shared.aws import client

    asked = _baseline_asked(monkeypatch)
    with emulator.Emulator() as running:
        endpoint = running.endpoint
        cloudformation = client("cloudformation")
        cloudformation.create_stack(StackName="monitor", TemplateBody=_monitor_stack_template())
        deadline = time.monotonic() + 10
        while not asked and time.monotonic() < deadline:
            time.sleep(0.05)

        _answer(asked[0], "FAILED", endpoint)

        stack = cloudformation.describe_stacks(StackName="monitor")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_FAILED"
        assert "the baseline job could not start" in stack["StackStatusReason"]
        assert _topics() == set()


def test_an_answer_after_an_update_completes_no_creation(monkeypatch: pytest.MonkeyPatch):
    """After an update, the stack's events ended in UPDATE_COMPLETE then CREATE_COMPLETE: a custom resource's answer
    completed a creation that was over."""
    from lambdas.shared.aws import client

    asked = _baseline_asked(monkeypatch)
    with emulator.Emulator() as running:
        endpoint = running.endpoint
        cloudformation = client("cloudformation")
        cloudformation.create_stack(StackName="monitor", TemplateBody=_monitor_stack_template())
        deadline = time.monotonic() + 10
        while not asked and time.monotonic() < deadline:
            time.sleep(0.05)
        _answer(asked[0], "SUCCESS", endpoint)
        updated = json.loads(_monitor_stack_template())
        updated["Resources"]["Alarm"] = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alarm"}}
        cloudformation.update_stack(StackName="monitor", TemplateBody=json.dumps(updated))

        _answer(asked[-1], "SUCCESS", endpoint)  # the function's answer, heard after the update

        stack = cloudformation.describe_stacks(StackName="monitor")["Stacks"][0]
        events = cloudformation.describe_stack_events(StackName="monitor")["StackEvents"]
    stack_events = [e["ResourceStatus"] for e in reversed(events) if e["LogicalResourceId"] == "monitor"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack_events == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
