# SPDX-License-Identifier: Apache-2.0
"""What people read in the orchestrator's notifications: subjects cut at a word, counts in the right number,
a model-quality metric not called a feature."""

from __future__ import annotations

import json

from lambdas.pipeline_orchestration.adapters import SNS_SUBJECT_LIMIT, subject_line
from lambdas.pipeline_orchestration.monitoring.reports import read_violations, violation_lines


def test_a_long_subject_is_cut_at_a_word_with_an_ellipsis():
    subject = "Model monitor violations: " + "churn-endpoint-with-a-long-name " * 5
    line = subject_line(subject)
    assert len(line) <= SNS_SUBJECT_LIMIT and line.endswith("…")
    assert line[:-1] == subject[: len(line) - 1] and subject[len(line) - 1] == " "  # the cut falls between words
    assert subject_line("short\nsubject") == "short subject"


def test_model_quality_metrics_are_metrics_and_data_quality_features_are_features():
    class Storage:
        def find(self, bucket: str, key: str) -> bytes:
            violations = [
                {"metric_name": "accuracy", "constraint_check_type": "LessThanThreshold", "description": "low"},
                {"feature_name": "age", "constraint_check_type": "baseline_drift_check", "description": "drift"},
            ]
            return json.dumps({"violations": violations}).encode()

    class Aws:
        storage = Storage()

    found = read_violations("s3://reports/run", Aws())  # type: ignore[arg-type]
    lines = violation_lines(list(found.first), found.count)
    assert lines == [
        "  - metric accuracy, check LessThanThreshold: low",
        "  - feature age, check baseline_drift_check: drift",
    ]
