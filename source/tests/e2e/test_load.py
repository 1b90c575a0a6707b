# SPDX-License-Identifier: Apache-2.0
"""Identical requests at once over HTTP: every caller answered, one pipeline, and an unchanged plan writes nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambdas.pipeline_orchestration.planner import PROVISIONED_PREFIX

CALLERS = 20


def _versions(scene, key: str) -> int:
    listed = scene.aws("s3").list_object_versions(Bucket=scene.settings.assets_bucket, Prefix=key)
    return len([v for v in listed.get("Versions", []) if v["Key"] == key])


def test_identical_concurrent_posts_are_all_answered_and_make_one_pipeline(single_account):
    body = {**single_account.request("byom_realtime_builtin"), "model_name": "twenty-callers"}
    start = threading.Barrier(CALLERS)

    def post(_: int) -> Any:
        start.wait(30)
        try:
            return single_account.call("POST", "/provisionpipeline", body)
        except OSError as error:  # a reset connection: the caller got no answer
            return error

    with ThreadPoolExecutor(CALLERS) as pool:
        answers = list(pool.map(post, range(CALLERS)))

    assert [getattr(a, "status", a) for a in answers] == [200] * CALLERS
    assert len({a.body["pipeline_id"] for a in answers}) == 1
    # One caller creates the stack; the others are told it exists, or (having met AlreadyExists and found their own
    # plan in it) that it was created: one pipeline either way.
    assert [a.body["message"] for a in answers].count("success: stack creation started") >= 1
    name = "mlops-pipeline-twenty-callers-byompipelinerealtimebuiltin"
    listed = single_account.call("GET", "/pipelines", query={"pipeline_type": "byom_realtime_builtin"}).body
    assert [p["pipeline_name"] for p in listed["pipelines"]].count(name) == 1
    artifact = f"{PROVISIONED_PREFIX}/{name}/template.zip"
    assert _versions(single_account, artifact) == 1

    again = single_account.call("POST", "/provisionpipeline", body)
    assert again.status == 200 and again.body["message"].endswith("No updates are to be performed.")
    assert _versions(single_account, artifact) == 1

    changed = single_account.call("POST", "/provisionpipeline", {**body, "inference_instance": "ml.m5.xlarge"})
    assert changed.status == 200 and changed.body["message"].endswith("Updating template parameters.")
    assert _versions(single_account, artifact) == 2
