# SPDX-License-Identifier: Apache-2.0
"""Scenes for the monitoring engine's tests: capture and ground truth in SageMaker's record format, on moto S3."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

BUCKET = "monitoring-test"
CAPTURE = f"s3://{BUCKET}/capture/ep/AllTraffic/"
GROUND_TRUTH = f"s3://{BUCKET}/groundtruth/"
HOUR = ("2026-08-01T10:00:00Z", "2026-08-01T11:00:00Z")
HOUR_PREFIX = "2026/08/01/10"


def capture_record(
    features: Sequence[Any] | dict[str, Any] | str,
    output: Any = None,
    event_id: str = "e",
    inference_id: str | None = None,
    encoding: str = "CSV",
) -> dict[str, Any]:
    """One captured inference as SageMaker writes it ("Capture data" record format)."""
    if isinstance(features, str):
        text, content_type = features, "text/csv"
    elif isinstance(features, dict):
        text, content_type = json.dumps(features), "application/json"
    else:
        text, content_type = ",".join("" if v is None else str(v) for v in features), "text/csv"
    data_encoding = "JSON" if content_type == "application/json" else "CSV"
    if encoding == "BASE64":
        text, data_encoding = base64.b64encode(text.encode()).decode(), "BASE64"
    record: dict[str, Any] = {
        "captureData": {
            "endpointInput": {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": text,
                "encoding": data_encoding,
            }
        },
        "eventMetadata": {"eventId": event_id, "inferenceTime": "2026-08-01T10:15:00Z"},
        "eventVersion": "0",
    }
    if inference_id:
        record["eventMetadata"]["inferenceId"] = inference_id
    if output is not None:
        record["captureData"]["endpointOutput"] = {
            "observedContentType": "text/csv",
            "mode": "OUTPUT",
            "data": str(output),
            "encoding": "CSV",
        }
    return record


def ground_truth_record(event_id: str, label: Any) -> dict[str, Any]:
    """One label as the documented ground-truth record format has it."""
    return {"groundTruthData": {"data": str(label), "encoding": "CSV"}, "eventMetadata": {"eventId": event_id}}


def put_lines(s3: Any, key: str, records: Iterable[dict[str, Any]]) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body="\n".join(json.dumps(r) for r in records).encode())


def put_capture_frame(s3: Any, frame: pd.DataFrame, files: int = 1, prefix: str = HOUR_PREFIX) -> None:
    """A frame's rows as CSV capture records, spread over `files` files of one hour."""
    rows = [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]
    for part in range(files):
        records = [capture_record(row, event_id=f"{part}-{i}") for i, row in enumerate(rows[part::files])]
        put_lines(s3, f"capture/ep/AllTraffic/{prefix}/part-{part}.jsonl", records)


def put_csv(s3: Any, key: str, frame: pd.DataFrame, header: bool = True) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=frame.to_csv(index=False, header=header).encode())
    return f"s3://{BUCKET}/{key}"


def tabular(rows: int, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """A mixed table: integral, fractional and categorical features."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows),
            "income": rng.normal(50_000 + shift, 10_000, rows).round(2),
            "score": rng.random(rows),
            "segment": rng.choice(["gold", "silver", "bronze"], rows),
        }
    )


def spec(kind: str, mode: str, output: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "mode": mode, "output_uri": f"s3://{BUCKET}/{output}/", **fields}
