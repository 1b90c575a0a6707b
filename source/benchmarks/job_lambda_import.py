# SPDX-License-Identifier: Apache-2.0
"""Cold import time of each blueprint job Lambda, beside `import boto3` plus one client, in the same run.

Each figure is the median of fresh `python -c` processes (a Lambda cold start imports the handler module
once). The job Lambdas import boto3 lazily, on their first AWS call, so the last rows show the full cold
path of the one that matters. The predecessor's SDK-based baseline Lambda took 1.23 s to import.

    python benchmarks/job_lambda_import.py [RUNS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]
CASES = {
    "lambdas.blueprints.job_resource (handler)": "import lambdas.blueprints.job_resource",
    "lambdas.blueprints.baseline": "import lambdas.blueprints.baseline",
    "lambdas.blueprints.training": "import lambdas.blueprints.training",
    "lambdas.blueprints.autopilot": "import lambdas.blueprints.autopilot",
    "import boto3 + sagemaker client": "import boto3; boto3.client('sagemaker', region_name='us-east-1')",
    "job_resource + its sagemaker client": (
        "import lambdas.blueprints.job_resource; from lambdas.shared.aws import client; client('sagemaker')"
    ),
}
TIMER = "import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"


def measure(code: str, runs: int) -> float:
    env = {**os.environ, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"}
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", TIMER.format(code=code)],
            cwd=SOURCE,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    print(f"Cold import, median of {runs} fresh processes ({sys.version.split()[0]})")
    print(f"{'module':<42} {'ms':>8}")
    print("-" * 51)
    for name, code in CASES.items():
        print(f"{name:<42} {measure(code, runs) * 1000:8.1f}")


if __name__ == "__main__":
    main()
