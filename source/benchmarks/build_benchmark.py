# SPDX-License-Identifier: Apache-2.0
"""Benchmark of the distributable build: wall time of build-s3-dist.sh, templates, resources, Lambda zip sizes.

    source/.venv/bin/python source/benchmarks/build_benchmark.py [--runs N]

Builds into a temporary directory (MLOPS_BUILD_DIR), so the working copy's deployment/ stays untouched.
The predecessor's SageMaker SDK layer alone was 68 MB zipped; our Lambda zips carry only our code.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEPLOYMENT = Path(__file__).resolve().parents[2] / "deployment"
ARGUMENTS = ("mlops-benchmark-dist", "mlops-orchestrator", "v0.0.0-benchmark")


def build_once(out: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["bash", str(DEPLOYMENT / "build-s3-dist.sh"), *ARGUMENTS],
        env={**os.environ, "MLOPS_BUILD_DIR": str(out)},
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def summary(out: Path) -> dict[str, object]:
    templates = sorted((out / "global-s3-assets").glob("*.template")) + sorted(
        p for p in (out / "regional-s3-assets").iterdir() if p.suffix in (".yaml", ".json")
    )
    resources = sum(len(json.loads(p.read_text()).get("Resources", {})) for p in templates)
    zips = sorted(p for p in (out / "regional-s3-assets").glob("*.zip") if p.name != "blueprints.zip")
    archive = out / "regional-s3-assets" / "blueprints.zip"
    return {
        "templates": len(templates),
        "resources": resources,
        "lambda_zips": len(zips),
        "lambda_zip_bytes": sum(p.stat().st_size for p in zips),
        "largest_lambda_zip_bytes": max((p.stat().st_size for p in zips), default=0),
        "blueprints_zip_bytes": archive.stat().st_size if archive.exists() else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="number of builds to time (default 1)")
    args = parser.parse_args()
    times = []
    with tempfile.TemporaryDirectory(prefix="mlops-build-") as directory:
        out = Path(directory)
        for _ in range(args.runs):
            times.append(build_once(out))
        result = summary(out)
    best, median = min(times), statistics.median(times)
    print(f"build-s3-dist.sh wall time: {best:.1f} s (best of {len(times)}, median {median:.1f} s)")
    print(f"templates: {result['templates']}, resources: {result['resources']}")
    print(
        f"Lambda zips: {result['lambda_zips']}, total {result['lambda_zip_bytes'] / 1024:.1f} KiB "
        f"(largest {result['largest_lambda_zip_bytes'] / 1024:.1f} KiB); "
        f"blueprints.zip {result['blueprints_zip_bytes'] / 1024:.1f} KiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
