# SPDX-License-Identifier: Apache-2.0
"""Each bias metric equals its published formula on a small table checked by hand; drift against a baseline."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from monitoring_engine import bias, job, s3io

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

# Facet d = "f" (4 rows), a = "m" (6 rows).
TABLE = pd.DataFrame(
    {
        "sex": ["m"] * 6 + ["f"] * 4,
        "group": ["x", "x", "x", "y", "y", "y", "x", "y", "y", "y"],
        "label": [1, 1, 1, 0, 0, 0, 1, 0, 0, 0],
        "predicted_label": [1, 1, 0, 1, 0, 0, 1, 1, 0, 0],
    }
)
CONFIG = {
    "facet_name": "sex",
    "facet_values_or_threshold": ["f"],
    "label_values_or_threshold": [1],
    "group_variable": "group",
}


def _metrics(report: dict[str, Any], section: str) -> dict[str, float]:
    (group,) = report[section]["facets"]["sex"]
    return {metric["name"]: metric["value"] for metric in group["metrics"]}


def test_pre_training_metrics_equal_their_formulas() -> None:
    values = _metrics(bias.analysis(TABLE, CONFIG, ["sex", "group"]), "pre_training_bias_metrics")
    # n_a = 6, n_d = 4; q_a = 3/6, q_d = 1/4; P_a = (1/2, 1/2), P_d = (1/4, 3/4), P = (3/8, 5/8)
    kl_a = 0.5 * math.log(0.5 / 0.375) + 0.5 * math.log(0.5 / 0.625)
    kl_d = 0.25 * math.log(0.25 / 0.375) + 0.75 * math.log(0.75 / 0.625)
    expected = {
        "CI": (6 - 4) / 10,
        "DPL": 0.5 - 0.25,
        "KL": 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75),
        "JS": 0.5 * (kl_a + kl_d),
        "LP": math.sqrt(0.25**2 + 0.25**2),
        "TVD": 0.5 * (0.25 + 0.25),
        "KS": 0.25,
        # group x: accepted 4 (1 of d), rejected 0 -> DD = 0 - 1/4; group y: accepted 0, rejected 6 (3 of d) -> 1/2
        "CDDL": (4 * -0.25 + 6 * 0.5) / 10,
    }
    assert values == pytest.approx(expected)


def test_post_training_metrics_equal_their_formulas() -> None:
    values = _metrics(bias.analysis(TABLE, CONFIG, ["sex", "group"]), "post_training_bias_metrics")
    # a: TP 2, FN 1, FP 1, TN 2, predicted positive 3; d: TP 1, FN 0, FP 1, TN 2, predicted positive 2
    benefit = [1, 1, 0, 2, 1, 1, 1, 2, 1, 1]
    mean = sum(benefit) / 10
    expected = {
        "DPPL": 3 / 6 - 2 / 4,
        "DI": (2 / 4) / (3 / 6),
        "DCAcc": 3 / 3 - 1 / 2,
        "DCR": 3 / 2 - 3 / 3,
        "RD": 2 / 3 - 1 / 1,
        "SD": 2 / 3 - 2 / 3,
        "DAR": 2 / 3 - 1 / 2,
        "DRR": 2 / 2 - 2 / 3,
        "AD": 4 / 6 - 3 / 4,
        "TE": 0 / 1 - 1 / 1,
        # group x: predicted accepted 3 (1 of d), rejected 1 (0 of d); y: accepted 2 (1 of d), rejected 4 (2 of d)
        "CDDPL": (4 * (0 / 1 - 1 / 3) + 6 * (2 / 4 - 1 / 2)) / 10,
        "GE": sum((b / mean) ** 2 - 1 for b in benefit) / (10 * 2),
    }
    assert values == pytest.approx(expected)
    assert bias.DESCRIPTIONS["DCAcc"] == "Difference in Conditional Acceptance (DCAcc)"


def test_a_continuous_facet_splits_at_its_threshold() -> None:
    ages = pd.Series([20, 35, 41, 50, 62, 39, 44, 28, 33, 70])
    assert bias.membership(ages, [40]).tolist() == [a > 40 for a in ages]
    assert bias.membership(pd.Series([0, 1, 1, 0]), [1]).tolist() == [False, True, True, False]


def test_drift_is_a_metric_further_from_zero_than_the_baseline() -> None:
    baseline = bias.analysis(TABLE, CONFIG, ["sex", "group"])
    skewed = TABLE.assign(predicted_label=[1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
    found = bias.drift_violations(bias.analysis(skewed, CONFIG, ["sex", "group"]), baseline)
    assert {v["metric_name"] for v in found} >= {"DPPL", "DI"}
    assert {(v["facet"], v["facet_value"], v["constraint_check_type"]) for v in found} == {
        ("sex", "f", "bias_drift_check")
    }
    assert bias.drift_violations(baseline, baseline) == []


def test_a_bias_baseline_and_an_hour_of_capture_with_ground_truth(s3: Any) -> None:
    table = pd.DataFrame({"label": TABLE["label"], "age": [20, 35, 41, 50, 62, 39, 44, 28, 33, 70]})
    table["predicted"] = TABLE["predicted_label"]
    dataset = put_csv(s3, "bias/baseline.csv", table)
    config = {"facet_name": "age", "facet_values_or_threshold": [40], "label_values_or_threshold": [1]}
    baseline = job.run_job(
        spec(
            "model_bias",
            "baseline",
            "bias-baseline",
            dataset={"uri": dataset, "format": "csv", "header": True},
            config={"bias_config": config, "label": "label", "predicted_label": "predicted"},
        ),
        s3,
    )
    assert baseline["status"] == "Completed", baseline
    report = s3io.read_json(s3, baseline["reports"]["analysis"])
    assert report["pre_training_bias_metrics"]["facets"]["age"][0]["value_or_threshold"] == "40"
    # the hour: everyone over 40 is now refused
    records = [
        capture_record([age], output=0.1 if age > 40 else 0.9, event_id=f"e{i}") for i, age in enumerate(table["age"])
    ]
    put_lines(s3, f"capture/ep/AllTraffic/{HOUR_PREFIX}/a.jsonl", records)
    put_lines(
        s3, "groundtruth/2026/08/01/10/g.jsonl", [ground_truth_record(f"e{i}", y) for i, y in enumerate(table["label"])]
    )
    outcome = job.run_job(
        spec(
            "model_bias",
            "analysis",
            "bias-hour",
            capture={"uri": CAPTURE, "start": HOUR[0], "end": HOUR[1]},
            ground_truth={"uri": GROUND_TRUTH},
            baseline={"analysis_uri": baseline["reports"]["analysis"]},
            config={**config, "headers": ["age"], "probability_attribute": "0", "probability_threshold_attribute": 0.5},
        ),
        s3,
    )
    assert outcome["status"] == "CompletedWithViolations", outcome
    assert "DPPL" in {v["metric_name"] for v in outcome["violations"]}
