# SPDX-License-Identifier: Apache-2.0
"""Cold import time of the orchestrator handler beside `import boto3` plus one client, in fresh processes.

    python benchmarks/handler_import.py [RUNS]

Prints the median of RUNS fresh interpreters for each case and the ratio to the boto3 baseline
(budget: the handler at most 1.3x the baseline). The handler defers boto3 until its first AWS call,
so the table also shows the handler plus that first client, which is what a cold Lambda pays in total.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]
CASES = {
    "import boto3 + one client (baseline)": "import boto3; boto3.client('s3', region_name='us-east-1')",
    "import orchestrator handler": "import lambdas.pipeline_orchestration.index",
    "handler + first AWS client": (
        "import lambdas.pipeline_orchestration.index; from lambdas.shared.aws import client; client('s3')"
    ),
}
TIMER = "import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"


def run_once(code: str) -> float:
    env = {**os.environ, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run(
        [sys.executable, "-c", TIMER.format(code=code)], cwd=SOURCE, env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    for code in CASES.values():  # warm the bytecode cache, as a deployed zip would have it
        run_once(code)
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(runs):  # interleaved, so a busy moment on the machine hits every case alike
        for name, code in CASES.items():
            samples[name].append(run_once(code))
    results = {name: statistics.median(values) for name, values in samples.items()}
    baseline = results["import boto3 + one client (baseline)"]
    print(f"cold import, median of {runs} fresh processes")
    for name, seconds in results.items():
        print(f"  {name:<40} {seconds * 1000:8.1f} ms   {seconds / baseline:5.2f}x baseline")
    # The fair comparison: a cold handler also creates its first client before its first answer.
    ratio = results["handler + first AWS client"] / baseline
    print(f"budget: handler + first client <= 1.30x baseline -> {'within' if ratio <= 1.3 else 'OVER'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
