# SPDX-License-Identifier: Apache-2.0
"""The committed OpenAPI document is the one the catalogue and the routes generate."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from infrastructure.build import openapi
from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from lambdas.pipeline_orchestration.index import ROUTES
from lambdas.pipeline_orchestration.model_cards import OPERATIONS
from lambdas.pipeline_orchestration.rules import NAME_PATTERN
from lambdas.pipeline_orchestration.validation import validate_request
from lambdas.shared.errors import BadRequest
from tests.unit.conftest import EXAMPLES, example, make_settings


def test_committed_document_is_up_to_date() -> None:
    committed = openapi.OUTPUT.read_text()

    assert committed == openapi.render(), (
        "source/openapi.json is out of date: run `python -m infrastructure.build.openapi` from source/"
    )


def test_every_route_is_documented() -> None:
    assert set(openapi.ROUTE_DOCS) == set(ROUTES)


def test_every_request_type_has_its_fields_and_required_list() -> None:
    schemas = openapi.build_document()["components"]["schemas"]

    for kind in [*CATALOGUE.values(), *OPERATIONS.values()]:
        schema = schemas[kind.name]
        options = {"pipeline_type", "dry_run", *(["owner_team"] if kind.name in CATALOGUE else [])}
        assert set(schema["properties"]) == {*options, *(f.name for f in kind.fields)}
        assert set(schema["required"]) == {"pipeline_type", *(f.name for f in kind.fields if openapi._required(f))}
    realtime = schemas["byom_realtime_builtin"]["properties"]
    assert realtime["model_name"]["pattern"] == f"^{NAME_PATTERN}$"
    assert realtime["inference_instance"]["oneOf"][0]["pattern"].startswith(r"^ml\.[a-z0-9]+\.(")
    assert set(realtime["inference_instance"]["oneOf"][1]["properties"]) == {"dev", "staging", "prod"}
    assert schemas["create_model_card"]["properties"]["intended_uses"]["properties"]["risk_rating"]["enum"] == [
        "High",
        "Medium",
        "Low",
        "Unknown",
    ]


DOCUMENT = openapi.build_document()


def document_accepts(value: Any, schema: dict[str, Any]) -> bool:
    return Draft202012Validator({"components": DOCUMENT["components"], **schema}).is_valid(value)


def server_accepts(body: Any) -> bool:
    try:
        validate_request(body, make_settings())
    except BadRequest:
        return False
    return True


REQUEST = {"$ref": "#/components/schemas/Request"}


def _without(pipeline_type: str, *fields: str, **changes: Any) -> dict[str, Any]:
    body = {**example(pipeline_type), **changes}
    for field in fields:
        body.pop(field, None)
    return body


@pytest.mark.parametrize(
    "body",
    [
        *(json.loads(path.read_text()) for path in sorted(EXAMPLES.glob("*.json"))),
        {**example("byom_realtime_builtin"), "endpiont_name": "x"},  # an unknown key: ignored, with a warning
        {**example("byom_realtime_builtin"), "model_name": "Churn-XGB"},
        _without("byom_realtime_builtin", "inference_instance", "data_capture_location", serverless_memory_size="2048"),
        {"pipeline_type": "list_model_cards", "status": "Approved"},
        {"pipeline_type": "update_model_card", "name": "card", "version": 2, "created_by": "ml-team"},
    ],
)
def test_what_the_server_accepts_the_document_accepts(body):
    assert server_accepts(body)
    assert document_accepts(body, REQUEST)


@pytest.mark.parametrize(
    "body",
    [
        {"pipeline_type": "list_model_cards", "status": None},
        {"pipeline_type": "list_model_cards", "status": "Done"},
        {**example("byom_realtime_builtin"), "model_name": "churn xgb"},
        {**example("byom_realtime_builtin"), "model_name": "  "},
        _without("byom_realtime_builtin", "inference_instance"),
        _without("byom_realtime_builtin", "model_framework"),  # required without the model registry
        _without("byom_model_quality_monitor", "monitor_inference_attribute", problem_type="Regression"),
        {"pipeline_type": "byom_realtime_builtin"},
        {"pipeline_type": "no_such_type"},
    ],
)
def test_what_the_server_refuses_the_document_refuses(body):
    assert not server_accepts(body)
    assert not document_accepts(body, REQUEST)


STATUS_BODY = DOCUMENT["paths"]["/pipelinestatus"]["post"]["requestBody"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize(
    ("pipeline_id", "valid"),
    [
        ("arn:aws:cloudformation:us-east-1:123456789012:stack/mlops-pipeline-x-codepipeline/0a1b-2c3d", True),
        ("mlops-pipeline-x-codepipeline", True),
        ("", False),
        ("mlops\x00x", False),
        (" mlops-x", False),
    ],
)
def test_the_status_body_says_what_a_pipeline_id_is(pipeline_id, valid):
    assert document_accepts({"pipeline_id": pipeline_id}, STATUS_BODY) is valid


def test_the_list_query_refuses_empty_and_accepts_any_case_state():
    parameters = {p["name"]: p["schema"] for p in DOCUMENT["paths"]["/pipelines"]["get"]["parameters"]}
    assert document_accepts("active", parameters["state"]) and not document_accepts("", parameters["state"])
    assert not document_accepts("", parameters["next_token"])
