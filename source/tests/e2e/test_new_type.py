# SPDX-License-Identifier: Apache-2.0
"""A pipeline type added in one place: declared here on an existing blueprint and registered with one call,
it is validated, planned, deployed in local mode, described, listed and torn down like the catalogue's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lambdas.pipeline_orchestration.catalogue import CATALOGUE, registered
from lambdas.pipeline_orchestration.catalogue.batch import BATCH, BATCH_KEEPS, BATCH_READS, build_batch
from lambdas.pipeline_orchestration.spec import PipelineType
from tests.e2e.conftest import LocalScene
from tests.e2e.test_pipelines import check_listed, delete_until_gone, pipeline_name

# A nightly scoring job: the batch blueprint, the built-in image's fields, no rollback.
NIGHTLY = PipelineType(
    "nightly_batch_scoring",
    "NightlyBatchScoring",
    BATCH,
    CATALOGUE["byom_batch_builtin"].fields,
    build_batch,
    CATALOGUE["byom_batch_builtin"].checks,
    description="Nightly batch scoring with a SageMaker built-in image.",
    reads=BATCH_READS,
    keeps=BATCH_KEEPS,
    example_file="byom_batch_builtin.json",
)


@pytest.fixture
def nightly() -> Iterator[PipelineType]:
    with registered(NIGHTLY):
        yield NIGHTLY


def test_a_registered_type_is_validated_planned_deployed_and_listed(single_account: LocalScene, nightly):
    body = {**single_account.request(nightly.name), "pipeline_type": nightly.name, "model_name": "nightly-xgb"}
    name = pipeline_name(single_account, nightly.name, body)

    rejected = single_account.call("POST", "/provisionpipeline", {**body, "inference_instance": "big"})
    assert rejected.status == 400 and "inference_instance" in str(rejected.body)
    planned = single_account.call("POST", "/provisionpipeline", {**body, "dry_run": True})
    assert planned.status == 200, planned.body
    assert planned.body["plan"]["template"] == BATCH.template, planned.body

    answer = single_account.call("POST", "/provisionpipeline", body)
    assert answer.status == 200, answer.body
    described = single_account.wait(name)
    assert described["state"] == "ACTIVE", described.get("reason")
    assert described["pipeline_type"] == nightly.name
    assert described["sagemaker"]["transform_job"]["name"], described["sagemaker"]
    check_listed(single_account, name, nightly.name)
    refused = single_account.call("POST", f"/pipelines/{name}/rollback", {})
    assert refused.status == 400 and "nightly_batch_scoring pipeline" in refused.body["detailedMessage"], refused.body

    teardown = delete_until_gone(single_account, name)
    assert {k["field"] for k in teardown["kept"]} >= {"batch_job_output_location"}, teardown
