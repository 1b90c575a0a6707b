# SPDX-License-Identifier: Apache-2.0
"""Data quality: statistics of a dataset or an hour of capture, the baseline's constraints, and the violations.

Constraints: SageMaker Developer Guide, "Schema for Constraints (constraints.json file)": per feature `name`,
`inferred_type`, `completeness`, `num_constraints.is_non_negative`, `string_constraints.domains`; and
`monitoring_config` (`datatype_check_threshold`, `domain_content_threshold`, `distribution_constraints` with
`comparison_threshold`, `comparison_method`, `categorical_comparison_threshold`, `categorical_drift_method`).

Violations: "Schema for Violations (constraint_violations.json file)": `feature_name`, `constraint_check_type`,
`description`, with the documented check types and their documented triggers:
- data_type_check: the share of present values not of the baseline's type exceeds `datatype_check_threshold`
  (an Integral feature accepts whole numbers; a Fractional one any number; a String one anything).
- completeness_check: the share of present values is below the baseline's `completeness`.
- baseline_drift_check: the distance between this dataset's distribution and the baseline's exceeds
  `comparison_threshold` (numeric) or `categorical_comparison_threshold` (string). The distance is the
  L-infinity distance (Model Monitor's `LInfinity` method): for numeric features the largest difference of the two
  cumulative distributions (read from the two KLL sketches at the union of both sketches' quantile points, i.e. the
  two-sample Kolmogorov-Smirnov statistic); for string features the largest difference of the two value shares.
- missing_column_check / extra_column_check: fewer / more columns than the baseline.
- categorical_values_check: the share of present values outside the baseline's domain exceeds
  `domain_content_threshold`.
- non_negative_check (our addition for the documented `is_non_negative` constraint): a negative value in a feature
  the baseline found non-negative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .statistics import FRACTIONAL, INTEGRAL, STRING, DatasetStatistics, FeatureState

DEFAULTS = {
    "datatype_check_threshold": 0.1,
    "domain_content_threshold": 0.1,
    "comparison_threshold": 0.1,
    "categorical_comparison_threshold": 0.1,
    "max_domain_size": 20,
}
QUANTILE_POINTS = 101


def suggest_constraints(statistics: DatasetStatistics, config: dict[str, Any]) -> dict[str, Any]:
    """The baseline's constraints, in `constraints.json`'s shape."""
    settings = {**DEFAULTS, **{key: config[key] for key in DEFAULTS if key in config}}
    features = []
    for state in (statistics.features[name] for name in statistics.to_report_order()):
        feature: dict[str, Any] = {
            "name": state.name,
            "inferred_type": state.inferred_type,
            "completeness": state.present / state.count if state.count else 0.0,
        }
        if state.inferred_type in (INTEGRAL, FRACTIONAL):
            feature["num_constraints"] = {"is_non_negative": state.numeric > 0 and state.negatives == 0}
        else:
            shares = state.exact_frequencies()
            if shares is not None and len(shares) <= settings["max_domain_size"]:
                feature["string_constraints"] = {"domains": sorted(shares)}
        features.append(feature)
    return {
        "version": 0,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": settings["datatype_check_threshold"],
            "domain_content_threshold": settings["domain_content_threshold"],
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": settings["comparison_threshold"],
                "comparison_method": "Robust",
                "categorical_comparison_threshold": settings["categorical_comparison_threshold"],
                "categorical_drift_method": "LInfinity",
            },
        },
    }


def domains(constraints: dict[str, Any]) -> dict[str, list[str]]:
    """Each feature's categorical domain, so the analysis counts values outside it while it reads."""
    return {
        feature["name"]: list(feature["string_constraints"]["domains"])
        for feature in constraints.get("features", [])
        if feature.get("string_constraints", {}).get("domains")
    }


def numeric_distance(current: FeatureState, baseline: FeatureState) -> float:
    """L-infinity distance between two cumulative distributions, read from two KLL sketches."""
    if current.kll.is_empty() or baseline.kll.is_empty():
        return 0.0
    ranks = np.linspace(0.0, 1.0, QUANTILE_POINTS)
    points = np.unique(np.concatenate([baseline.kll.get_quantiles(ranks), current.kll.get_quantiles(ranks)]))
    ours = np.array([current.kll.get_rank(point) for point in points])
    theirs = np.array([baseline.kll.get_rank(point) for point in points])
    return float(np.max(np.abs(ours - theirs)))


def categorical_distance(current: FeatureState, baseline: FeatureState) -> float | None:
    """L-infinity distance between two value-share distributions (None when either is not known exactly)."""
    ours, theirs = current.exact_frequencies(), baseline.exact_frequencies()
    if ours is None or theirs is None:
        return None
    return max(abs(ours.get(value, 0.0) - theirs.get(value, 0.0)) for value in set(ours) | set(theirs))


def _violation(feature: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": feature, "constraint_check_type": check, "description": description}


def violations(
    current: DatasetStatistics, baseline: DatasetStatistics, constraints: dict[str, Any]
) -> list[dict[str, str]]:
    """The documented checks of one dataset's statistics against the baseline's statistics and constraints."""
    config = constraints.get("monitoring_config", {})
    distribution = config.get("distribution_constraints", {})
    datatype_threshold = float(config.get("datatype_check_threshold", DEFAULTS["datatype_check_threshold"]))
    domain_threshold = float(config.get("domain_content_threshold", DEFAULTS["domain_content_threshold"]))
    numeric_threshold = float(distribution.get("comparison_threshold", DEFAULTS["comparison_threshold"]))
    categorical_threshold = float(
        distribution.get("categorical_comparison_threshold", DEFAULTS["categorical_comparison_threshold"])
    )
    compare = distribution.get("perform_comparison", "Enabled") == "Enabled"
    found: list[dict[str, str]] = []
    expected = [feature["name"] for feature in constraints.get("features", [])]
    for name in (name for name in expected if name not in current.features):
        found.append(_violation(name, "missing_column_check", f"Column {name} of the baseline is missing"))
    for name in (name for name in current.features if name not in expected):
        found.append(_violation(name, "extra_column_check", f"Column {name} is not in the baseline"))
    for feature in constraints.get("features", []):
        name = feature["name"]
        state = current.features.get(name)
        if state is None or state.count == 0:
            continue
        present = state.present
        completeness = present / state.count
        if completeness < float(feature.get("completeness", 0.0)):
            found.append(
                _violation(
                    name,
                    "completeness_check",
                    f"Data completeness {completeness:.4f} is below the baseline's {feature['completeness']:.4f}",
                )
            )
        expected_type = feature.get("inferred_type")
        if present and expected_type in (INTEGRAL, FRACTIONAL):
            mismatched = state.strings + (state.fractional if expected_type == INTEGRAL else 0)
            share = mismatched / present
            if share > datatype_threshold:
                found.append(
                    _violation(
                        name,
                        "data_type_check",
                        f"Data type match requirement is not met: {share:.4f} of values are not {expected_type}, "
                        f"threshold {datatype_threshold}",
                    )
                )
        if feature.get("num_constraints", {}).get("is_non_negative") and state.negatives:
            found.append(
                _violation(name, "non_negative_check", f"{state.negatives} negative values; the baseline had none")
            )
        domain = feature.get("string_constraints", {}).get("domains")
        if domain and present:
            share = state.outside_domain / present
            if share > domain_threshold:
                found.append(
                    _violation(
                        name,
                        "categorical_values_check",
                        f"{share:.4f} of values are outside the baseline's domain, threshold {domain_threshold}",
                    )
                )
        reference = baseline.features.get(name)
        if not compare or reference is None or not present:
            continue
        if expected_type == STRING:
            distance = categorical_distance(state, reference)
            threshold = categorical_threshold
        else:
            distance, threshold = numeric_distance(state, reference), numeric_threshold
        if distance is not None and distance > threshold:
            found.append(
                _violation(
                    name,
                    "baseline_drift_check",
                    f"Baseline drift distance {distance:.4f} (L-infinity) exceeds threshold {threshold}",
                )
            )
    return found
