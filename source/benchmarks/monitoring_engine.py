# SPDX-License-Identifier: Apache-2.0
"""Throughput and peak memory of a data-quality analysis: 1,000,000 captured rows x 20 columns on moto S3.

    python benchmarks/monitoring_engine.py [ROWS]

Writes a baseline of 10,000 rows and an hour of capture (CSV payloads, in AWS's record format, 10 files), runs the
baseline and the analysis through `run_job`, and prints rows per second and peak memory (targets: under 60 s and
under 1 GiB). moto keeps the capture in this process's memory, so the engine's share is the rise of the process's
peak resident memory (Linux's VmHWM, reset through /proc/self/clear_refs before the analysis) over its resident
memory when the analysis starts. It prints; it does not assert.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import boto3
import numpy as np
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitoring_engine import job

BUCKET = "benchmark"
COLUMNS = 20
FILES = 10


def _rows(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(100, 15, size=(count, COLUMNS)), 3)


def _capture_file(rows: np.ndarray, offset: int) -> bytes:
    lines = []
    for i, row in enumerate(rows):
        record = {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": ",".join(map(str, row)),
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": "0.5",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": f"e{offset + i}", "inferenceTime": "2026-08-01T10:00:00Z"},
            "eventVersion": "0",
        }
        lines.append(json.dumps(record))
    return "\n".join(lines).encode()


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        header = ",".join(f"f{i}" for i in range(COLUMNS))
        baseline_rows = "\n".join(",".join(map(str, row)) for row in _rows(10_000, 0))
        s3.put_object(Bucket=BUCKET, Key="baseline.csv", Body=f"{header}\n{baseline_rows}".encode())
        per_file = total // FILES
        for part in range(FILES):
            body = _capture_file(_rows(per_file, part + 1), part * per_file)
            s3.put_object(Bucket=BUCKET, Key=f"capture/ep/AllTraffic/2026/08/01/10/part-{part}.jsonl", Body=body)
        baseline = job.run_job(
            {
                "kind": "data_quality",
                "mode": "baseline",
                "dataset": {"uri": f"s3://{BUCKET}/baseline.csv", "format": "csv", "header": True},
                "output_uri": f"s3://{BUCKET}/baseline/",
            },
            s3,
        )
        before = _reset_peak()
        started = time.perf_counter()
        outcome = job.run_job(
            {
                "kind": "data_quality",
                "mode": "analysis",
                "capture": {
                    "uri": f"s3://{BUCKET}/capture/ep/AllTraffic/",
                    "start": "2026-08-01T10:00:00Z",
                    "end": "2026-08-01T11:00:00Z",
                },
                "baseline": {
                    "statistics_uri": baseline["reports"]["statistics"],
                    "constraints_uri": baseline["reports"]["constraints"],
                },
                "output_uri": f"s3://{BUCKET}/hour/",
            },
            s3,
        )
        elapsed = time.perf_counter() - started
        peak = _status_mib("VmHWM")
    print(f"status: {outcome['status']} ({outcome['exit_message']})")
    print(f"rows: {outcome['rows']:,} x {COLUMNS} columns in {elapsed:.1f} s: {outcome['rows'] / elapsed:,.0f} rows/s")
    print(f"peak resident memory during the analysis: {peak:,.0f} MiB; resident when it started (moto's copy of the")
    print(f"capture included): {before:,.0f} MiB; the engine's rise: {peak - before:,.0f} MiB")
    print(f"process peak since start (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> float:
    """Reset the peak resident memory (Linux) and return the resident memory now, in MiB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


if __name__ == "__main__":
    main()
