# SPDX-License-Identifier: Apache-2.0
"""Latency (p50, p99) and throughput of the local API at 1, 8, 32 and 64 concurrent clients, and the errors.

    python benchmarks/local_api.py [REQUESTS_PER_LEVEL] [TEMPLATES_DIR]

Starts local mode on 127.0.0.1 (the emulator and the API), then for each level of concurrency sends a
bounded number of dry-run, provision, status and list requests over HTTP and prints the numbers. Provision
requests reuse a few model names, so most re-post a plan the pipeline already runs from (nothing is written).
An error is any answer outside 2xx, or a caller left without one (a reset or refused connection).
Needs the built templates (deployment/build-s3-dist.sh); no traffic leaves the machine.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SOURCE))

from local.api_client import ApiClient  # noqa: E402
from local.session import DEFAULT_TEMPLATES, LocalOrchestrator  # noqa: E402

LEVELS = (1, 8, 32, 64)
MODEL_NAMES = 4


def request(assets: str, index: int, dry_run: bool) -> dict:
    body = json.loads((SOURCE / "examples" / "byom_realtime_custom.json").read_text())
    body.update(
        model_name=f"bench-{index % MODEL_NAMES}",
        data_capture_location=f"{assets}/capture",
        custom_image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-custom-algorithms:v1",
    )
    if dry_run:
        body["dry_run"] = True
    return body


def measure(api: ApiClient, calls: list, clients: int) -> tuple[list[float], float, int]:
    def one(call) -> tuple[float, int]:
        started = time.perf_counter()
        try:
            status = api.call(*call).status
        except OSError:  # no answer at all
            status = 0
        return time.perf_counter() - started, status

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(one, calls))
    elapsed = time.perf_counter() - started
    return [r[0] for r in results], elapsed, sum(1 for r in results if not 200 <= r[1] < 300)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    per_level = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    templates = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_TEMPLATES
    with LocalOrchestrator(templates=templates) as orchestrator:
        api = ApiClient(orchestrator.server.url)
        assets = orchestrator.service.settings.assets_bucket  # type: ignore[union-attr]
        first = api.call("POST", "/provisionpipeline", request(assets, 0, False))
        pipeline_id = first.body["pipeline_id"]
        kinds = {
            "dry-run": lambda i: ("POST", "/provisionpipeline", request(assets, i, True)),
            "provision": lambda i: ("POST", "/provisionpipeline", request(assets, i, False)),
            "status": lambda i: ("POST", "/pipelinestatus", {"pipeline_id": pipeline_id}),
            "list": lambda i: ("GET", "/pipelines"),
        }
        print(f"local API, {per_level} requests per kind and level (2 cores)")
        print(f"{'request':<10} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>7}")
        for kind, make in kinds.items():
            for clients in LEVELS:
                latencies, elapsed, errors = measure(api, [make(i) for i in range(per_level)], clients)
                print(
                    f"{kind:<10} {clients:>7} {percentile(latencies, 0.5) * 1000:>8.1f} "
                    f"{percentile(latencies, 0.99) * 1000:>8.1f} {per_level / elapsed:>8.1f} {errors:>7}"
                )


if __name__ == "__main__":
    main()
