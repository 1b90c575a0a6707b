# SPDX-License-Identifier: Apache-2.0
"""Every shipped example, sent unchanged over HTTP to local mode, ends ACTIVE (in both account modes): local mode
puts in place what the examples reference (local/examples.py)."""

from __future__ import annotations

import pytest

from local.examples import pipeline_name as name_of
from tests.e2e.conftest import LocalScene, _local
from tests.e2e.examples_support import (
    EXAMPLES,
    MULTI_ACCOUNT,
    REGISTRY,
    TOP_LEVEL,
    provision_every_example,
)


@pytest.fixture(scope="module")
def multi_with_registry(built_templates):
    # One caller provisions and approves here, as with the predecessor: the operator allows self-approval.
    yield from _local(built_templates, multi_account=True, model_registry=True, allow_self_approval=True)


def test_every_example_runs_to_the_end_in_the_multi_account_mode(multi_account: LocalScene):
    provision_every_example(multi_account, TOP_LEVEL)


def test_the_multi_account_examples_run_to_the_end(multi_account: LocalScene):
    # Each stage with its own instance, capture and endpoint.
    provision_every_example(multi_account, [p for p in MULTI_ACCOUNT if not p.endswith(REGISTRY)])


def test_the_multi_account_registry_example_runs_to_the_end_with_the_model_registry(multi_with_registry: LocalScene):
    # It deploys a model package from the registry.
    provision_every_example(multi_with_registry, [p for p in MULTI_ACCOUNT if p.endswith(REGISTRY)])


def test_a_model_package_that_does_not_exist_is_refused_naming_the_field_and_creates_nothing(
    multi_with_registry: LocalScene,
):
    """The orchestrator reads the package before it plans (its artifacts are what the model may read), so a package
    that does not exist is a 400 before anything is written, not a failed deploy."""
    body = dict(EXAMPLES[next(p for p in MULTI_ACCOUNT if p.endswith(REGISTRY))])
    missing = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/999"
    body["model_package_name"] = missing
    answer = multi_with_registry.call("POST", "/provisionpipeline", body)
    assert answer.status == 400, answer.body
    assert answer.body["errors"][0]["field"] == "model_package_name", answer.body
    assert "does not exist" in answer.body["errors"][0]["message"]
    assert multi_with_registry.call("GET", f"/pipelines/{name_of(body)}").status == 404
