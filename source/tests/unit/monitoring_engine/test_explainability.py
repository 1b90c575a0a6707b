# SPDX-License-Identifier: Apache-2.0
"""SHAP global attributions of the model behind an endpoint (called through an injected runtime client), and
their drift by nDCG."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from monitoring_engine import explainability, job, s3io

from .support import CAPTURE, HOUR, put_capture_frame, put_csv, spec


class LinearEndpoint:
    """A stand-in for sagemaker-runtime: InvokeEndpoint on a linear model, CSV in, CSV out."""

    def __init__(self, weights: list[float]) -> None:
        self.weights = np.asarray(weights)
        self.calls = 0

    def invoke_endpoint(self, EndpointName: str, ContentType: str, Accept: str, Body: bytes) -> dict[str, Any]:
        self.calls += 1
        rows = np.atleast_2d(np.loadtxt(io.StringIO(Body.decode()), delimiter=","))
        scores = rows @ self.weights
        return {"ContentType": "text/csv", "Body": io.BytesIO("\n".join(f"{s}" for s in scores).encode())}


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(rows, 3)), columns=["a", "b", "c"])


def test_attributions_rank_features_by_their_weight_and_drift_when_the_model_changes(s3: Any) -> None:
    dataset = put_csv(s3, "xai/baseline.csv", _frame(200, seed=1))
    config = {"shap_config": {"num_samples": 64, "seed": 0}, "max_rows": 8}
    baseline = job.run_job(
        spec(
            "model_explainability",
            "baseline",
            "xai-baseline",
            dataset={"uri": dataset, "format": "csv", "header": True},
            predictor={"endpoint_name": "ep"},
            config=config,
        ),
        s3,
        runtime=LinearEndpoint([5.0, 1.0, 0.1]),
    )
    assert baseline["status"] == "Completed", baseline
    report = s3io.read_json(s3, baseline["reports"]["analysis"])
    values = report["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    assert sorted(values, key=values.__getitem__, reverse=True) == ["a", "b", "c"]

    put_capture_frame(s3, _frame(100, seed=2))
    window = {"uri": CAPTURE, "start": HOUR[0], "end": HOUR[1]}
    analysis = spec(
        "model_explainability",
        "analysis",
        "xai-hour",
        capture=window,
        baseline={"analysis_uri": baseline["reports"]["analysis"]},
        predictor={"endpoint_name": "ep"},
        config={**config, "headers": ["a", "b", "c"]},
    )
    same = job.run_job(analysis, s3, runtime=LinearEndpoint([5.0, 1.0, 0.1]))
    assert same["status"] == "Completed", same
    reversed_model = job.run_job(analysis, s3, runtime=LinearEndpoint([0.1, 1.0, 5.0]))
    assert reversed_model["status"] == "CompletedWithViolations"
    (violation,) = reversed_model["violations"]
    assert (violation["label"], violation["metric_name"], violation["constraint_check_type"]) == (
        "label0",
        "shap",
        "feature_attribution_drift_check",
    )


def test_ndcg_drift_needs_the_ranking_to_change() -> None:
    def report(values: dict[str, float]) -> dict[str, Any]:
        return {"explanations": {"kernel_shap": {"label0": {"global_shap_values": values}}}}

    baseline = report({"a": 3.0, "b": 2.0, "c": 1.0})
    assert explainability.drift_violations(report({"a": 2.9, "b": 2.1, "c": 0.9}), baseline) == []
    assert len(explainability.drift_violations(report({"a": 0.1, "b": 0.2, "c": 3.0}), baseline)) == 1
