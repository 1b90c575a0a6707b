# SPDX-License-Identifier: Apache-2.0
"""Property tests of the validator: whatever JSON arrives, the answer is a valid request or a 400 naming fields."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdas.pipeline_orchestration import index
from lambdas.pipeline_orchestration.catalogue import CATALOGUE
from lambdas.pipeline_orchestration.model_cards import OPERATIONS
from lambdas.pipeline_orchestration.validation import ValidOperation, ValidRequest, validate_request
from lambdas.shared.errors import BadRequest
from tests.callers import as_caller
from tests.unit.conftest import example, make_settings

SETTINGS = [make_settings(), make_settings(multi_account=True), make_settings(model_registry=True)]
TYPES = sorted([*CATALOGUE, *OPERATIONS])
FIELDS = sorted({f.name for kind in [*CATALOGUE.values(), *OPERATIONS.values()] for f in kind.fields})

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**300), max_value=10**300),  # json.loads refuses 4300 digits and more
    st.floats(allow_nan=False),
    st.text(max_size=80),
    st.sampled_from(["", " ", "True", "1e9", "9" * 5000, "\u00b2", "\u0663", "cron(0 * ? * * *)", "ml.m5.large"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
# Values that broke a rule's own parsing once: many digits, digits that are not ASCII, numbers in words.
tricky = st.sampled_from(["9" * 5000, "-" + "9" * 400, "\u00b2", "\u0663", "1e400", "nan", "inf", " 7 ", "0x10"])
json_values = json_values | tricky
stage_objects = st.fixed_dictionaries({"dev": json_values, "staging": json_values, "prod": json_values})
KINDS = {**CATALOGUE, **OPERATIONS}
field_values = st.one_of(tricky, json_values, stage_objects)


def _shaped(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """A body of one request type: its own field names, any values."""
    names = sorted(f.name for f in KINDS[kind].fields)
    return st.dictionaries(st.sampled_from(names), field_values, max_size=12).map(
        lambda fields: {"pipeline_type": kind, **fields}
    )


def _mutated(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """A shipped example with a few of its fields given other values: the cross-field rules run too."""
    names = sorted(f.name for f in CATALOGUE[kind].fields)
    return st.dictionaries(st.sampled_from(names), field_values, min_size=1, max_size=3).map(
        lambda changes: {**example(kind), **changes}
    )


shaped = st.sampled_from(TYPES).flatmap(_shaped) | st.sampled_from(sorted(CATALOGUE)).flatmap(_mutated)


def outcome(body: Any, which: int) -> str:
    try:
        request = validate_request(body, SETTINGS[which])
    except BadRequest as refused:
        assert refused.http_status == 400
        assert all(e.field and e.message for e in refused.errors)
        return "400"
    assert isinstance(request, ValidRequest | ValidOperation)
    return "valid"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.integers(0, 2))
def test_any_json_value_is_a_valid_request_or_a_400(body, which):
    outcome(body, which)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shaped, st.integers(0, 2))
def test_any_values_in_the_fields_of_a_request_type_are_a_valid_request_or_a_400(body, which):
    outcome(body, which)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | json_values.map(json.dumps))
def test_any_body_text_on_a_body_route_is_answered_with_json_and_never_a_5xx(raw):
    class Refusing:
        """A service whose every call is a bug, so that only the handler's own parsing answers."""

        settings = make_settings()

        def status(self, body):
            raise BadRequest("parsed")

    response = index.handle(
        as_caller({"httpMethod": "POST", "resource": "/pipelinestatus", "path": "/pipelinestatus", "body": raw}),
        Refusing(),  # type: ignore[arg-type]
    )
    body = json.loads(response["body"])
    assert response["statusCode"] == 400 and "errors" in body
