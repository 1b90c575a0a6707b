# SPDX-License-Identifier: Apache-2.0
"""Model quality: metrics of predictions against ground truth (scikit-learn), constraints and violations.

Shapes: SageMaker Developer Guide, "Model quality metrics and Amazon CloudWatch monitoring" and "Create a model
quality baseline": `statistics.json` holds `dataset.item_count` and `regression_metrics` /
`binary_classification_metrics` / `multiclass_classification_metrics`, each metric `{"value", "standard_deviation"}`
(the standard deviation from bootstrap resamples) and the classifiers' `confusion_matrix` as
`{"<actual>": {"<predicted>": count}}`; `constraints.json` holds `regression_constraints` /
`binary_classification_constraints` / `multiclass_classification_constraints`, each metric
`{"threshold", "comparison_operator"}` with the operators GreaterThanThreshold, LessThanThreshold,
GreaterThanOrEqualToThreshold, LessThanOrEqualToThreshold. The baseline suggests each metric's own value as its
threshold, error metrics (mae, mse, rmse) with GreaterThanThreshold and the others with LessThanThreshold.
A violation names the metric (`metric_name`, and `feature_name` for the common shape) and the operator as
`constraint_check_type`, e.g. "Metric auc with 0.61 was LessThanThreshold 0.80".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import metrics

REGRESSION, BINARY, MULTICLASS = "Regression", "BinaryClassification", "MulticlassClassification"
SECTIONS = {
    REGRESSION: ("regression_metrics", "regression_constraints"),
    BINARY: ("binary_classification_metrics", "binary_classification_constraints"),
    MULTICLASS: ("multiclass_classification_metrics", "multiclass_classification_constraints"),
}
ERROR_METRICS = {"mae", "mse", "rmse"}
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
BOOTSTRAP_SAMPLES = 10


def _metric_functions(problem_type: str) -> dict[str, Callable[..., float]]:
    if problem_type == REGRESSION:
        return {
            "mae": lambda y, p, s: metrics.mean_absolute_error(y, p),
            "mse": lambda y, p, s: metrics.mean_squared_error(y, p),
            "rmse": lambda y, p, s: math.sqrt(metrics.mean_squared_error(y, p)),
            "r2": lambda y, p, s: metrics.r2_score(y, p),
        }
    if problem_type == BINARY:
        return {
            "accuracy": lambda y, p, s: metrics.accuracy_score(y, p),
            "precision": lambda y, p, s: metrics.precision_score(y, p, zero_division=0),
            "recall": lambda y, p, s: metrics.recall_score(y, p, zero_division=0),
            "f1": lambda y, p, s: metrics.f1_score(y, p, zero_division=0),
            "auc": lambda y, p, s: metrics.roc_auc_score(y, s) if s is not None and len(set(y)) > 1 else math.nan,
        }
    if problem_type == MULTICLASS:
        return {
            "accuracy": lambda y, p, s: metrics.accuracy_score(y, p),
            "weighted_precision": lambda y, p, s: metrics.precision_score(y, p, average="weighted", zero_division=0),
            "weighted_recall": lambda y, p, s: metrics.recall_score(y, p, average="weighted", zero_division=0),
            "weighted_f1": lambda y, p, s: metrics.f1_score(y, p, average="weighted", zero_division=0),
        }
    raise ValueError(f"problem_type must be one of {sorted(SECTIONS)}, not {problem_type!r}")


def _confusion(actual: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, int]]:
    labels = sorted(set(actual.tolist()) | set(predicted.tolist()))
    matrix = metrics.confusion_matrix(actual, predicted, labels=labels)
    return {_label(a): {_label(p): int(matrix[i, j]) for j, p in enumerate(labels)} for i, a in enumerate(labels)}


def _label(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def compute(
    problem_type: str, actual: np.ndarray, predicted: np.ndarray, scores: np.ndarray | None, seed: int = 0
) -> dict[str, Any]:
    """Model quality statistics in the documented shape."""
    functions = _metric_functions(problem_type)
    rng = np.random.default_rng(seed)
    resamples = [rng.integers(0, len(actual), len(actual)) for _ in range(BOOTSTRAP_SAMPLES)] if len(actual) else []
    section: dict[str, Any] = {}
    for name, function in functions.items():
        value = float(function(actual, predicted, scores))
        spread = [float(function(actual[i], predicted[i], None if scores is None else scores[i])) for i in resamples]
        finite = [x for x in spread if not math.isnan(x)]
        section[name] = {"value": value, "standard_deviation": float(np.std(finite)) if finite else 0.0}
    if problem_type != REGRESSION:
        section["confusion_matrix"] = _confusion(actual, predicted)
    return {"version": 0, "dataset": {"item_count": len(actual)}, SECTIONS[problem_type][0]: section}


def suggest_constraints(problem_type: str, statistics: dict[str, Any]) -> dict[str, Any]:
    metrics_section, constraints_section = SECTIONS[problem_type]
    constraints = {}
    for name, metric in statistics[metrics_section].items():
        if name == "confusion_matrix" or math.isnan(metric["value"]):
            continue
        operator = "GreaterThanThreshold" if name in ERROR_METRICS else "LessThanThreshold"
        constraints[name] = {"threshold": metric["value"], "comparison_operator": operator}
    return {"version": 0, constraints_section: constraints}


def violations(problem_type: str, statistics: dict[str, Any], constraints: dict[str, Any]) -> list[dict[str, str]]:
    metrics_section, constraints_section = SECTIONS[problem_type]
    found = []
    for name, constraint in constraints.get(constraints_section, {}).items():
        metric = statistics[metrics_section].get(name)
        if metric is None or math.isnan(metric["value"]):
            continue
        operator, threshold = constraint["comparison_operator"], float(constraint["threshold"])
        if OPERATORS[operator](metric["value"], threshold):
            found.append(
                {
                    "feature_name": name,
                    "metric_name": name,
                    "constraint_check_type": operator,
                    "description": f"Metric {name} with {metric['value']:.6g} was {operator} {threshold:.6g}",
                }
            )
    return found
