# SPDX-License-Identifier: Apache-2.0
"""The Lambda handler: API Gateway events in, JSON responses out, every error mapped in one place."""

from __future__ import annotations

import json

import pytest

from lambdas.pipeline_orchestration import index
from lambdas.pipeline_orchestration.adapters import Aws
from lambdas.pipeline_orchestration.service import OrchestratorService
from tests.callers import as_caller
from tests.unit.conftest import ASSETS, BLUEPRINTS, example, make_settings


def api_event(path: str, body, method: str = "POST") -> dict:
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    event = {"httpMethod": method, "resource": path, "path": path, "body": raw, "isBase64Encoded": False}
    return as_caller(event)


def call(service, path, body, method="POST"):
    response = index.handle(api_event(path, body, method), service)
    assert response["headers"]["Content-Type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


def test_provision_answers_200_with_message_and_pipeline_id(service):
    status, body = call(service, "/provisionpipeline", example("byom_realtime_builtin"))
    assert status == 200
    assert body["message"] == "success: stack creation started" and body["pipeline_id"].startswith(
        "arn:aws:cloudformation"
    )


def test_validation_errors_are_a_400_listing_every_field(service):
    status, body = call(service, "/provisionpipeline", {"pipeline_type": "byom_realtime_builtin", "model_name": "a b"})
    assert status == 400
    assert body["message"] == "A BadRequest exception occurred"
    fields = {e["field"] for e in body["errors"]}
    assert {"model_name", "inference_instance", "data_capture_location"} <= fields
    assert "model_name" in body["detailedMessage"]


def test_a_400_names_the_ignored_keys_beside_the_errors(service):
    body = {**example("byom_batch_builtin"), "inference_instance": "big", "colour": "red"}
    status, answer = call(service, "/provisionpipeline", body)
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == ["inference_instance"]
    assert answer["warnings"] == ["colour is not a known field of byom_batch_builtin; it was ignored"]


def test_detailed_message_is_left_out_when_not_allowed(aws_scene):
    quiet = OrchestratorService(make_settings(detailed_errors=False), Aws())
    status, body = call(quiet, "/provisionpipeline", {"pipeline_type": "nope"})
    assert status == 400 and "detailedMessage" not in body
    assert body["errors"][0]["field"] == "pipeline_type"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ("", "body is empty"),
        (None, "body is empty"),
        ('"a string"', "JSON object"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_bodies_that_are_not_objects_are_400s(service, raw, message):
    status, body = call(service, "/provisionpipeline", raw)
    assert status == 400 and message in body["detailedMessage"]


def test_base64_bodies_are_decoded(service):
    import base64

    event = api_event("/provisionpipeline", None)
    event.update(
        body=base64.b64encode(json.dumps(example("byom_image_builder")).encode()).decode(), isBase64Encoded=True
    )
    assert index.handle(event, service)["statusCode"] == 200


def test_status_of_an_unknown_pipeline_is_404(service):
    status, body = call(service, "/pipelinestatus", {"pipeline_id": "mlops-pipeline-none-codepipeline"})
    assert status == 404 and body["message"] == "Not found"


def test_status_without_pipeline_id_is_400_not_500(service):
    status, body = call(service, "/pipelinestatus", {})
    assert status == 400 and body["errors"] == [
        {"field": "pipeline_id", "message": "is required: the pipeline_id returned by /provisionpipeline"}
    ]


def test_unknown_route_is_404(service):
    status, body = call(service, "/deleteeverything", {})
    assert status == 404 and "Routes:" in body["detailedMessage"]


def test_unexpected_errors_are_500_without_a_stack_trace(service, monkeypatch):
    def explode(self, body):
        raise KeyError("secret internals")

    monkeypatch.setattr(OrchestratorService, "provision", explode)
    status, body = call(service, "/provisionpipeline", example("byom_realtime_builtin"))
    assert status == 500 and body["message"] == "An Unexpected Server side exception occurred"
    assert "Traceback" not in json.dumps(body) and 'File "' not in json.dumps(body)


def test_aws_errors_keep_their_status(aws_scene, monkeypatch):
    service = OrchestratorService(make_settings(blueprint_bucket="missing-blueprints-bucket"), Aws())
    status, body = call(service, "/provisionpipeline", example("byom_realtime_builtin"))
    assert status == 404 and body["message"] == "A boto3 ClientError occurred"
    assert "NoSuchBucket" in body["detailedMessage"]


def test_a_raw_config_event_invoking_the_function_directly_is_refused_and_creates_nothing(service, caplog):
    response = index.handle(example("byom_image_builder"), service)
    assert response["statusCode"] == 403
    assert "names no caller" in json.loads(response["body"])["detailedMessage"]
    assert "refused a request invoking the function directly" in caplog.text
    assert service.aws.stacks.page()[0] == []


@pytest.mark.parametrize(
    "context",
    [
        None,
        {},
        {"identity": {"sourceIp": "10.0.0.1"}},  # no IAM authorization: no userArn
        {"identity": {"userArn": "not-an-arn"}},
        {"identity": {"userArn": "arn:aws:s3:::bucket"}},
    ],
)
def test_a_hand_made_api_event_without_a_caller_is_refused_with_403_and_logged(service, context, caplog):
    event = {"httpMethod": "POST", "resource": "/provisionpipeline", "path": "/provisionpipeline"}
    event["body"] = json.dumps(example("byom_image_builder"))
    if context is not None:
        event["requestContext"] = context
    response = index.handle(event, service)
    assert response["statusCode"] == 403
    assert "requestContext.identity.userArn" in json.loads(response["body"])["detailedMessage"]
    assert "refused an API event without a caller identity" in caplog.text
    assert service.aws.stacks.page()[0] == []


def test_unrecognised_events_are_400(service):
    response = index.handle({"something": "else"}, service)
    assert response["statusCode"] == 400


def test_lambda_entry_point_reads_settings_from_the_environment(aws_scene, monkeypatch):
    monkeypatch.setenv("ASSETS_BUCKET", ASSETS)
    monkeypatch.setenv("BLUEPRINT_BUCKET", BLUEPRINTS)
    monkeypatch.setenv("IS_MULTI_ACCOUNT", "False")
    index.service.cache_clear()
    try:
        response = index.handler(api_event("/provisionpipeline", example("byom_realtime_builtin")), None)
    finally:
        index.service.cache_clear()
    assert response["statusCode"] == 200


def test_every_route_with_a_body_is_a_route():
    from lambdas.pipeline_orchestration.index import BODY_ROUTES, ROUTES

    assert set(ROUTES) >= BODY_ROUTES
    assert all(method == "POST" for method, _ in BODY_ROUTES)


def test_unexpected_errors_never_show_their_text(service, monkeypatch):
    def explode(self, body):
        raise KeyError("secret internals")

    monkeypatch.setattr(OrchestratorService, "provision", explode)
    status, body = call(service, "/provisionpipeline", example("byom_realtime_builtin"))
    assert status == 500 and "secret internals" not in json.dumps(body) and "KeyError" not in json.dumps(body)


def test_an_aws_answer_that_could_not_be_read_is_not_shown(service, monkeypatch):
    from botocore.exceptions import ClientError

    raw = "<?xml version='1.0'?><Error><Code>InternalError</Code><Message>x</Message></Error>"

    def unreadable(self, body, caller=None):
        raise ClientError({"Error": {"Code": "500", "Message": raw}, "ResponseMetadata": {"HTTPStatusCode": 500}}, "Op")

    monkeypatch.setattr(OrchestratorService, "provision", unreadable)
    status, body = call(service, "/provisionpipeline", example("byom_realtime_builtin"))
    # AWS's own 5xx: the caller may try again (503), and the raw answer stays in the log.
    assert status == 503 and "<" not in body["detailedMessage"] and "could not be read" in body["detailedMessage"]


@pytest.mark.parametrize("path", ["/provisionpipeline", "/pipelinestatus", "/pipelines/{pipeline_name}/approval"])
@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_a_body_nested_deeper_than_any_request_is_a_400_naming_the_body(service, path, opening):
    deep = opening * 40_000 + "1" + ("]" if opening == "[" else "}") * 40_000  # within the 256 KiB a body may be
    event = {
        **api_event(path, deep),
        "pathParameters": {"pipeline_name": "mlops-pipeline-x-byompipelinerealtimebuiltin"},
    }
    response = index.handle(event, service)
    body = json.loads(response["body"])
    assert response["statusCode"] == 400 and body["errors"][0]["field"] == "(body)"
    assert "levels deep" in body["errors"][0]["message"]


def test_nesting_a_little_past_the_limit_is_refused_too(service):
    deep = "[" * (index.MAX_NESTING + 1) + "]" * (index.MAX_NESTING + 1)
    status, body = call(service, "/provisionpipeline", deep)
    assert status == 400 and body["errors"][0]["field"] == "(body)"


@pytest.mark.parametrize("name", ["bad\x01name", "a\nb", "-starts-with-hyphen", "x" * 129])
def test_a_pipeline_name_with_characters_no_stack_name_has_is_a_400(service, name):
    event = {
        **api_event("/pipelines/{pipeline_name}/approval", {"stage": "prod"}),
        "pathParameters": {"pipeline_name": name},
    }
    response = index.handle(event, service)
    body = json.loads(response["body"])
    assert response["statusCode"] == 400 and body["errors"][0]["field"] == "pipeline_name"


@pytest.mark.parametrize(
    "pipeline_id", ["mlops\x00x", "arn:aws:cloudformation:us-east-1:1:stack/\x7f/1", " mlops-x", "a/b"]
)
def test_a_pipeline_id_that_is_no_stack_arn_or_name_is_a_400(service, pipeline_id):
    status, body = call(service, "/pipelinestatus", {"pipeline_id": pipeline_id})
    assert status == 400 and body["errors"][0]["field"] == "pipeline_id"


@pytest.mark.parametrize("limit", ["\u00b2", "\u0663", "", " ", "0", "101", "1.5"])
def test_a_limit_that_is_not_a_whole_number_in_range_is_a_400(service, limit):
    event = {**api_event("/pipelines", None, "GET"), "queryStringParameters": {"limit": limit}}
    response = index.handle(event, service)
    body = json.loads(response["body"])
    assert response["statusCode"] == 400 and body["errors"][0]["field"] == "limit"
