# SPDX-License-Identifier: Apache-2.0
"""Capture records decode as SageMaker writes them: CSV and JSON payloads, base64 or plain; hours and joins."""

from __future__ import annotations

from typing import Any

import pytest

from monitoring_engine import capture

from .support import CAPTURE, GROUND_TRUTH, HOUR, capture_record, ground_truth_record, put_lines


@pytest.mark.parametrize("encoding", ["CSV", "BASE64"])
def test_csv_payloads_decode_plain_and_base64(encoding: str) -> None:
    section = capture_record([1, 2.5, "x"], encoding=encoding)["captureData"]["endpointInput"]
    text, kind = capture.decode(section)
    assert (capture.payload_rows(text, kind), kind) == ([["1", "2.5", "x"]], "csv")


@pytest.mark.parametrize("encoding", ["JSON", "BASE64"])
def test_json_payloads_decode_plain_and_base64(encoding: str) -> None:
    section = capture_record({"age": 41, "segment": "gold"}, encoding=encoding)["captureData"]["endpointInput"]
    text, kind = capture.decode(section)
    assert (capture.payload_rows(text, kind), kind) == ([{"age": 41, "segment": "gold"}], "json")


def test_json_rows_unwrap_instances_and_lists() -> None:
    assert capture.json_rows('{"instances": [[1, 2], [3, 4]]}') == [[1, 2], [3, 4]]
    assert capture.json_rows("[1, 2]") == [[1, 2]]
    assert capture.json_rows("0.7") == [[0.7]]


def test_select_reads_indexes_and_paths() -> None:
    assert capture.select(["0.1", "0.9"], "1") == "0.9"
    assert capture.select({"predictions": [{"score": 0.3}]}, "$.predictions[0].score") == 0.3
    assert capture.select(["7"], None) == "7"


def test_the_window_lists_the_hours_in_start_to_end() -> None:
    prefixes = capture.hour_prefixes(CAPTURE, "2026-08-01T22:30:00Z", "2026-08-02T01:00:00Z")
    assert [p.removeprefix(CAPTURE) for p in prefixes] == ["2026/08/01/22/", "2026/08/01/23/", "2026/08/02/00/"]


def test_frames_mix_csv_and_json_and_chunk(s3: Any) -> None:
    records = [capture_record([i, i * 2]) for i in range(5)] + [capture_record({"a": 1}, encoding="BASE64")]
    put_lines(s3, "capture/ep/AllTraffic/2026/08/01/10/a.jsonl", records)
    files = capture.window_files(s3, CAPTURE, *HOUR)
    frames = list(capture.iter_input_frames(s3, files, chunk_rows=2))
    assert sum(len(f) for f in frames) == 6
    assert [list(f.columns) for f in frames][-1] == ["a"]


def test_inferences_join_ground_truth_by_inference_id_else_event_id(s3: Any) -> None:
    put_lines(
        s3,
        "capture/ep/AllTraffic/2026/08/01/10/a.jsonl",
        [capture_record([1], output=0.9, event_id="e1", inference_id="i1"), capture_record([2], 0.1, event_id="e2")],
    )
    put_lines(s3, "groundtruth/2026/08/01/10/g.jsonl", [ground_truth_record("i1", 1), ground_truth_record("e2", 0)])
    labels = capture.read_ground_truth(s3, capture.window_files(s3, GROUND_TRUTH, *HOUR))
    inferences = list(capture.iter_inferences(s3, capture.window_files(s3, CAPTURE, *HOUR)))
    assert [(i.key, labels[i.key], i.output) for i in inferences] == [("i1", "1", ["0.9"]), ("e2", "0", ["0.1"])]
