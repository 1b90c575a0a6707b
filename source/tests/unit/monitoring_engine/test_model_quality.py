# SPDX-License-Identifier: Apache-2.0
"""Model-quality metrics equal scikit-learn's; captured predictions joined with ground truth give violations."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from monitoring_engine import job, model_quality, s3io

from .support import (
    CAPTURE,
    GROUND_TRUTH,
    HOUR,
    HOUR_PREFIX,
    capture_record,
    ground_truth_record,
    put_csv,
    put_lines,
    spec,
)

RNG = np.random.default_rng(3)


def test_regression_metrics_equal_sklearns() -> None:
    actual = RNG.normal(size=300)
    predicted = actual + RNG.normal(scale=0.3, size=300)
    section = model_quality.compute("Regression", actual, predicted, None)["regression_metrics"]
    assert section["mae"]["value"] == pytest.approx(metrics.mean_absolute_error(actual, predicted))
    assert section["mse"]["value"] == pytest.approx(metrics.mean_squared_error(actual, predicted))
    assert section["rmse"]["value"] == pytest.approx(math.sqrt(metrics.mean_squared_error(actual, predicted)))
    assert section["r2"]["value"] == pytest.approx(metrics.r2_score(actual, predicted))
    assert section["mae"]["standard_deviation"] > 0


def test_binary_metrics_equal_sklearns() -> None:
    actual = RNG.integers(0, 2, 400)
    scores = np.clip(actual * 0.6 + RNG.random(400) * 0.5, 0, 1)
    predicted = (scores >= 0.5).astype(int)
    statistics = model_quality.compute("BinaryClassification", actual, predicted, scores)
    section = statistics["binary_classification_metrics"]
    assert section["accuracy"]["value"] == pytest.approx(metrics.accuracy_score(actual, predicted))
    assert section["precision"]["value"] == pytest.approx(metrics.precision_score(actual, predicted))
    assert section["recall"]["value"] == pytest.approx(metrics.recall_score(actual, predicted))
    assert section["f1"]["value"] == pytest.approx(metrics.f1_score(actual, predicted))
    assert section["auc"]["value"] == pytest.approx(metrics.roc_auc_score(actual, scores))
    matrix = metrics.confusion_matrix(actual, predicted)
    assert section["confusion_matrix"] == {
        "0": {"0": matrix[0, 0], "1": matrix[0, 1]},
        "1": {"0": matrix[1, 0], "1": matrix[1, 1]},
    }


def test_multiclass_metrics_equal_sklearns() -> None:
    actual = RNG.integers(0, 3, 300)
    predicted = np.where(RNG.random(300) < 0.7, actual, RNG.integers(0, 3, 300))
    section = model_quality.compute("MulticlassClassification", actual, predicted, None)[
        "multiclass_classification_metrics"
    ]
    assert section["accuracy"]["value"] == pytest.approx(metrics.accuracy_score(actual, predicted))
    for name, function in (
        ("weighted_precision", metrics.precision_score),
        ("weighted_recall", metrics.recall_score),
        ("weighted_f1", metrics.f1_score),
    ):
        assert section[name]["value"] == pytest.approx(function(actual, predicted, average="weighted"))


def test_constraints_use_model_monitors_operators() -> None:
    statistics = {"regression_metrics": {"mae": {"value": 1.0}, "r2": {"value": 0.8}}}
    constraints = model_quality.suggest_constraints("Regression", statistics)
    assert constraints["regression_constraints"] == {
        "mae": {"threshold": 1.0, "comparison_operator": "GreaterThanThreshold"},
        "r2": {"threshold": 0.8, "comparison_operator": "LessThanThreshold"},
    }
    worse = {"regression_metrics": {"mae": {"value": 1.5}, "r2": {"value": 0.9}}}
    found = model_quality.violations("Regression", worse, constraints)
    assert [(v["metric_name"], v["constraint_check_type"]) for v in found] == [("mae", "GreaterThanThreshold")]


def _hour(s3: Any, labels: np.ndarray, scores: np.ndarray) -> None:
    put_lines(
        s3,
        f"capture/ep/AllTraffic/{HOUR_PREFIX}/a.jsonl",
        [capture_record([i], output=f"{s:.4f}", inference_id=f"i{i}") for i, s in enumerate(scores)],
    )
    put_lines(s3, "groundtruth/2026/08/01/11/g.jsonl", [ground_truth_record(f"i{i}", y) for i, y in enumerate(labels)])


def test_a_binary_model_quality_baseline_and_a_worse_hour(s3: Any) -> None:
    labels = RNG.integers(0, 2, 500)
    scores = np.clip(labels * 0.7 + RNG.random(500) * 0.4, 0, 1)
    dataset = put_csv(s3, "mq/baseline.csv", pd.DataFrame({"label": labels, "probability": scores}))
    config = {"problem_type": "BinaryClassification", "probability_threshold_attribute": 0.5}
    baseline = job.run_job(
        spec(
            "model_quality",
            "baseline",
            "mq-baseline",
            dataset={"uri": dataset, "format": "csv", "header": True},
            config={**config, "ground_truth_attribute": "label", "probability_attribute": "probability"},
        ),
        s3,
    )
    assert baseline["status"] == "Completed", baseline
    constraints = s3io.read_json(s3, baseline["reports"]["constraints"])["binary_classification_constraints"]
    assert set(constraints) == {"accuracy", "precision", "recall", "f1", "auc"}
    _hour(s3, labels, RNG.random(500))  # the model has lost its skill
    outcome = job.run_job(
        spec(
            "model_quality",
            "analysis",
            "mq-hour",
            capture={"uri": CAPTURE, "start": HOUR[0], "end": HOUR[1]},
            ground_truth={"uri": GROUND_TRUTH},
            baseline={"constraints_uri": baseline["reports"]["constraints"]},
            config={**config, "probability_attribute": "0"},
        ),
        s3,
    )
    assert outcome["status"] == "CompletedWithViolations", outcome
    assert outcome["rows"] == 500
    assert {v["metric_name"] for v in outcome["violations"]} >= {"accuracy", "auc"}
    assert {v["constraint_check_type"] for v in outcome["violations"]} == {"LessThanThreshold"}
