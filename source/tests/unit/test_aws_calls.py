# SPDX-License-Identifier: Apache-2.0
"""The recorder of our Lambdas' AWS calls (tests/aws_calls.py): attribution, IAM actions, the role check."""

from __future__ import annotations

from collections import defaultdict

import boto3
from moto import mock_aws

from tests.aws_calls import HANDLERS, iam_actions, not_allowed, record_calls


def _template(actions: list[str]) -> dict:
    statement = {"Effect": "Allow", "Action": actions, "Resource": "*"}
    return {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"Policies": [{"PolicyDocument": {"Statement": [statement]}}]},
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Handler": "lambdas.pipeline_orchestration.index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                },
            },
        }
    }


def test_a_call_under_a_handler_is_recorded_with_its_iam_action():
    record: dict[str, set[str]] = defaultdict(set)
    # Code whose module is the orchestrator's handler module, as Lambda runs it.
    namespace = {"__name__": "lambdas.pipeline_orchestration.index"}
    exec(
        "def handler(s3):\n    s3.list_objects_v2(Bucket='assets')\n    s3.head_object(Bucket='assets', Key='k')\n",
        namespace,
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="assets")  # a test's own call: not recorded
        s3.put_object(Bucket="assets", Key="k", Body=b"x")
        s3.meta.events.register("before-call.*.*", record_calls(record))
        s3.put_object(Bucket="assets", Key="k", Body=b"y")  # still the test's
        namespace["handler"](s3)
    assert dict(record) == {"lambdas.pipeline_orchestration.index.handler": {"s3:ListBucket", "s3:GetObject"}}


def test_a_call_belongs_to_the_innermost_handler_running_it_else_to_the_handlers_of_its_code():
    shared = ("lambdas.shared.aws", "client")
    test = ("tests.unit.x", "test")
    assert HANDLERS.of_frames([shared, ("lambdas.blueprints.training", "start"), test]) == {
        "lambdas.blueprints.job_resource.on_event",
        "lambdas.blueprints.job_resource.poll",
    }
    assert HANDLERS.of_frames([("lambdas.pipeline_orchestration.adapters", "put"), test]) == {
        "lambdas.pipeline_orchestration.index.handler"
    }
    assert HANDLERS.of_frames(
        [("lambdas.blueprints.custom_resource", "answer"), ("lambdas.blueprints.job_resource", "on_event")]
    ) == {"lambdas.blueprints.job_resource.on_event"}
    # An emulated invocation: the batch transform function runs inside the invoke-on-deploy one.
    nested = [
        ("lambdas.blueprints.batch_transform", "handler"),
        ("moto.awslambda.models", "invoke"),
        ("lambdas.blueprints.invoke_on_deploy", "handler"),
    ]
    assert HANDLERS.of_frames(nested) == {"lambdas.blueprints.batch_transform.handler"}


def test_calls_of_local_mode_and_of_tests_belong_to_no_lambda():
    handler = ("lambdas.pipeline_orchestration.index", "handler")
    assert (
        HANDLERS.of_frames(
            [("local.runner", "_register"), ("lambdas.pipeline_orchestration.provisioner", "x"), handler]
        )
        == set()
    )
    assert HANDLERS.of_frames([("tests.e2e.conftest", "aws"), ("_pytest.python", "call")]) == set()


def test_operations_map_to_the_iam_actions_that_authorize_them():
    assert iam_actions("s3", "ListObjectsV2", {}) == ["s3:ListBucket"]
    assert iam_actions("s3", "GetObject", {"VersionId": "v1"}) == ["s3:GetObjectVersion"]
    assert iam_actions("monitoring", "PutMetricData", {}) == ["cloudwatch:PutMetricData"]
    assert iam_actions("lambda", "Invoke", {}) == ["lambda:InvokeFunction"]
    assert iam_actions("sts", "GetCallerIdentity", {}) == []


def test_the_check_reports_an_action_the_role_does_not_allow():
    record = {"lambdas.pipeline_orchestration.index.handler": {"s3:GetObject", "cloudformation:CreateStack"}}
    templates = {"stack": _template(["s3:Get*"])}
    assert not_allowed(record, templates) == [
        "lambdas.pipeline_orchestration.index.handler: cloudformation:CreateStack"
    ]
    assert not_allowed(record, {"stack": _template(["s3:GetObject", "cloudformation:CreateStack"])}) == []


def test_code_shared_by_handlers_needs_the_action_in_one_of_their_roles():
    template = _template(["sagemaker:CreateTrainingJob"])
    template["Resources"]["Fn"]["Properties"]["Handler"] = "lambdas.blueprints.job_resource.on_event"
    shared = "lambdas.blueprints.job_resource.on_event | lambdas.blueprints.job_resource.poll"
    assert not_allowed({shared: {"sagemaker:CreateTrainingJob"}}, {"stack": template}) == []
    assert not_allowed({shared: {"sagemaker:DeleteModel"}}, {"stack": template}) == [f"{shared}: sagemaker:DeleteModel"]


def test_the_check_reports_a_handler_that_no_function_runs():
    assert not_allowed({"lambdas.blueprints.gone.handler": {"s3:GetObject"}}, {"stack": _template([])}) == [
        "lambdas.blueprints.gone.handler: no function of the templates runs it"
    ]
