# SPDX-License-Identifier: Apache-2.0
"""Data quality end to end on moto S3: a baseline, then hours of capture that do and do not violate it."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from monitoring_engine import job, s3io

from .support import BUCKET, CAPTURE, HOUR, put_capture_frame, put_csv, spec, tabular

HEADERS = ["age", "income", "score", "segment"]


def _baseline(s3: Any) -> dict[str, str]:
    dataset = put_csv(s3, "baseline/data.csv", tabular(3000, seed=10))
    outcome = job.run_job(
        spec("data_quality", "baseline", "baseline-out", dataset={"uri": dataset, "format": "csv", "header": True}),
        s3,
    )
    assert outcome["status"] == "Completed", outcome
    return {"statistics_uri": outcome["reports"]["statistics"], "constraints_uri": outcome["reports"]["constraints"]}


def _analyse(s3: Any, baseline: dict[str, str], **extra: Any) -> dict[str, Any]:
    window = {"uri": CAPTURE, "start": HOUR[0], "end": HOUR[1]}
    return job.run_job(spec("data_quality", "analysis", "hour", capture=window, baseline=baseline, **extra), s3)


def _checks(outcome: dict[str, Any]) -> set[tuple[str, str]]:
    return {(v["feature_name"], v["constraint_check_type"]) for v in outcome["violations"]}


def test_the_baseline_writes_statistics_and_constraints(s3: Any) -> None:
    baseline = _baseline(s3)
    constraints = s3io.read_json(s3, baseline["constraints_uri"])
    features = {f["name"]: f for f in constraints["features"]}
    assert [f["name"] for f in constraints["features"]] == HEADERS
    assert features["age"]["inferred_type"] == "Integral"
    assert features["age"]["num_constraints"] == {"is_non_negative": True}
    assert features["segment"]["string_constraints"] == {"domains": ["bronze", "gold", "silver"]}
    assert features["income"]["completeness"] == 1.0
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_threshold"] == 0.1
    statistics = s3io.read_json(s3, baseline["statistics_uri"])
    assert statistics["dataset"]["item_count"] == 3000


def test_a_same_distribution_hour_has_no_violations(s3: Any) -> None:
    baseline = _baseline(s3)
    put_capture_frame(s3, tabular(2000, seed=11), files=3)
    outcome = _analyse(s3, baseline)
    assert outcome["status"] == "Completed", outcome
    assert outcome["violations"] == [] and outcome["rows"] == 2000
    assert s3io.read_json(s3, outcome["reports"]["constraint_violations"]) == {"violations": []}
    statistics = s3io.read_json(s3, outcome["reports"]["statistics"])
    assert [f["name"] for f in statistics["features"]] == HEADERS  # capture columns take the baseline's names


def test_a_shifted_feature_an_unseen_category_and_a_half_empty_column_violate(s3: Any) -> None:
    baseline = _baseline(s3)
    hour = tabular(2000, seed=12, shift=15_000)
    hour.loc[: len(hour) // 2 - 1, "score"] = np.nan
    hour.loc[::3, "segment"] = "platinum"
    put_capture_frame(s3, hour)
    outcome = _analyse(s3, baseline)
    assert outcome["status"] == "CompletedWithViolations"
    assert _checks(outcome) == {
        ("income", "baseline_drift_check"),
        ("score", "completeness_check"),
        ("segment", "categorical_values_check"),
        ("segment", "baseline_drift_check"),
    }
    written = s3io.read_json(s3, outcome["reports"]["constraint_violations"])["violations"]
    assert {(v["feature_name"], v["constraint_check_type"]) for v in written} == _checks(outcome)


def test_a_missing_column_and_a_type_change_violate(s3: Any) -> None:
    baseline = _baseline(s3)
    hour = tabular(500, seed=13)[["age", "income", "score"]]
    hour["age"] = hour["age"] + 0.5
    put_capture_frame(s3, hour)
    outcome = _analyse(s3, baseline)
    assert ("segment", "missing_column_check") in _checks(outcome)
    assert ("age", "data_type_check") in _checks(outcome)


def test_an_extra_column_violates(s3: Any) -> None:
    baseline = _baseline(s3)
    hour = tabular(500, seed=14)
    hour["extra"] = 1
    put_capture_frame(s3, hour)
    assert ("_c4", "extra_column_check") in _checks(_analyse(s3, baseline))


def test_an_hour_without_capture_completes_and_says_so(s3: Any) -> None:
    outcome = _analyse(s3, _baseline(s3))
    assert outcome["status"] == "Completed"
    assert "No capture" in outcome["exit_message"]
    assert s3io.read_json(s3, f"s3://{BUCKET}/hour/result.json")["exit_message"] == outcome["exit_message"]


def test_sharded_statistics_equal_unsharded(s3: Any) -> None:
    baseline = _baseline(s3)
    put_capture_frame(s3, tabular(3000, seed=15, shift=20_000), files=5)
    whole = _analyse(s3, baseline)
    for index in (2, 1, 0):  # shard 0 merges once every partial is there
        outcome = _analyse(s3, baseline, shard={"index": index, "count": 3})
    assert _checks(outcome) == _checks(whole) != set()  # the KLL merge is approximate: the distances differ a little
    assert outcome["rows"] == whole["rows"] == 3000
    sharded = s3io.read_json(s3, outcome["reports"]["statistics"])
    job.run_job(
        spec(
            "data_quality",
            "analysis",
            "whole",
            capture={"uri": CAPTURE, "start": HOUR[0], "end": HOUR[1]},
            baseline=baseline,
        ),
        s3,
    )
    unsharded = s3io.read_json(s3, f"s3://{BUCKET}/whole/statistics.json")
    for ours, theirs in zip(sharded["features"], unsharded["features"], strict=True):
        for key in ("mean", "sum", "std_dev", "min", "max"):
            if "numerical_statistics" in theirs:
                assert ours["numerical_statistics"][key] == pytest.approx(theirs["numerical_statistics"][key])
        assert ours.get("string_statistics", {}).get("distinct_count") == theirs.get("string_statistics", {}).get(
            "distinct_count"
        )


def test_chunked_reading_gives_the_same_result(s3: Any) -> None:
    baseline = _baseline(s3)
    put_capture_frame(s3, tabular(1000, seed=16, shift=20_000), files=2)
    small = _analyse(s3, baseline, config={"chunk_rows": 64})
    assert _checks(small) == _checks(_analyse(s3, baseline)) != set()


def test_the_entry_point_reads_a_spec_file_and_exits_by_status(s3: Any, tmp_path: Any, capsys: Any) -> None:
    baseline = _baseline(s3)
    put_capture_frame(s3, tabular(500, seed=17, shift=30_000))
    path = tmp_path / "spec.json"
    window = {"uri": CAPTURE, "start": HOUR[0], "end": HOUR[1]}
    path.write_text(json.dumps(spec("data_quality", "analysis", "cli", capture=window, baseline=baseline)))
    assert job.main(["--spec-file", str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["status"] == "CompletedWithViolations"
    path.write_text(json.dumps(spec("data_quality", "analysis", "cli", capture=window)))
    assert job.main(["--spec-file", str(path)]) == 1  # no baseline to compare with: Failed
