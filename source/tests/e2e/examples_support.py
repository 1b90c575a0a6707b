# SPDX-License-Identifier: Apache-2.0
"""The shipped examples and how the end-to-end tests run them: provisioned unchanged over HTTP, each stage that
waits approved, to the end."""

from __future__ import annotations

import time

from lambdas.pipeline_orchestration.pipeline_state import has_finished
from local.examples import example_requests, provision_order
from local.examples import pipeline_name as name_of
from tests.e2e.conftest import LocalScene
from tests.e2e.test_pipelines import delete_until_gone

EXAMPLES = example_requests()
# The realtime example deploys the endpoint the churn monitors watch: it goes first, after the training pipeline
# a monitor retrains (which must exist before that monitor is provisioned).
FIRST = "byom_realtime_builtin.json"
TOP_LEVEL = provision_order({p: b for p, b in EXAMPLES.items() if "/" not in p}, [FIRST])
MULTI_ACCOUNT = sorted(p for p in EXAMPLES if p.startswith("multi_account/"))
REGISTRY = "_registry.json"  # examples that need the model registry


def run_to_the_end(scene: LocalScene, body: dict, timeout: float = 120) -> dict:
    """Provision the example as it is; approve each stage that waits; answer the final description."""
    answer = scene.call("POST", "/provisionpipeline", body)
    assert answer.status == 200, answer.body
    name = name_of(body)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = scene.call("GET", f"/pipelines/{name}").body
        if described.get("state") == "WAITING_APPROVAL":
            approved = scene.call("POST", f"/pipelines/{name}/approval", {"stage": described["approval_stage"]})
            assert approved.status == 200, approved.body
        elif has_finished(described.get("state")):
            return described
        time.sleep(0.3)
    raise TimeoutError(f"{name} did not end in {timeout} s")


def provision_every_example(scene: LocalScene, paths: list[str]) -> None:
    outcomes = {}
    for path in paths:
        described = run_to_the_end(scene, EXAMPLES[path])
        outcomes[path] = (described["state"], described.get("reason", ""))
    assert {p: o for p, o in outcomes.items() if o[0] != "ACTIVE"} == {}
    for name in dict.fromkeys(name_of(EXAMPLES[p]) for p in paths):
        delete_until_gone(scene, name)
