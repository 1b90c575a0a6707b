# SPDX-License-Identifier: Apache-2.0
"""The committed OpenAPI document is the one the catalogue and the routes generate."""

from __future__ import annotations

from infrastructure.build import openapi
from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from lambdas.pipeline_orchestration.index import ROUTES
from lambdas.pipeline_orchestration.model_cards import OPERATIONS


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
        assert set(schema["properties"]) == {"pipeline_type", "dry_run", *(f.name for f in kind.fields)}
        assert set(schema["required"]) == {"pipeline_type", *(f.name for f in kind.fields if f.required is True)}
    realtime = schemas["byom_realtime_builtin"]["properties"]
    assert realtime["inference_instance"]["oneOf"][0]["pattern"].startswith(r"^ml\.[a-z0-9]+\.(")
    assert set(realtime["inference_instance"]["oneOf"][1]["properties"]) == {"dev", "staging", "prod"}
    assert schemas["create_model_card"]["properties"]["intended_uses"]["properties"]["risk_rating"]["enum"] == [
        "High",
        "Medium",
        "Low",
        "Unknown",
    ]
