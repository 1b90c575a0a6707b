# SPDX-License-Identifier: Apache-2.0
"""Generate the image-URI table the Lambdas ship with, from the pinned `sagemaker` package's own data.

The Lambdas never import the SageMaker SDK. At build time this script asks the SDK's `image_uris.retrieve`
for every framework, version, scope and region the blueprints can use, and writes a compact JSON table:
each image is stored once as `repository:tag` with the id of its region->account map.

    python -m infrastructure.build.image_table [OUTPUT]
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

OUTPUT = Path(__file__).resolve().parents[2] / "lambdas" / "pipeline_orchestration" / "image_uris.json"
# Frameworks and built-in algorithms a request may name in model_framework (CPU images, default Python).
FRAMEWORKS = (
    "blazingtext",
    "factorization-machines",
    "forecasting-deepar",
    "image-classification",
    "ipinsights",
    "kmeans",
    "knn",
    "lda",
    "linear-learner",
    "mxnet",
    "ntm",
    "object-detection",
    "object2vec",
    "pca",
    "pytorch",
    "randomcutforest",
    "semantic-segmentation",
    "seq2seq",
    "sklearn",
    "tensorflow",
    "xgboost",
)
SCOPES = ("inference", "training")
CPU_INSTANCE = "ml.m5.xlarge"


def _config(framework: str) -> dict:
    from sagemaker import image_uris

    return image_uris.config_for_framework(framework)


def _versions(framework: str, scope: str) -> list[str]:
    config = _config(framework)
    config = config.get(scope, config)
    if "scope" in config and scope not in config["scope"]:
        return []
    return list(config.get("versions", {}))


def _regions(framework: str) -> list[str]:
    config = _config(framework)
    for part in (config, *(v for v in config.values() if isinstance(v, dict))):
        for version in part.get("versions", {}).values():
            if "registries" in version:
                return sorted(version["registries"])
    return []


def build_table() -> dict:
    from sagemaker import image_uris

    registries: list[dict[str, str]] = []
    images: dict[str, dict[str, dict[str, list]]] = {}

    def add(key: str, scope: str, version: str, by_region: dict[str, str]) -> None:
        # by_region: region -> full URI. Store "repo:tag" once and the region->account map by id.
        suffixes = {uri.split("/", 1)[1] for uri in by_region.values()}
        if len(suffixes) != 1:
            return
        accounts = {region: uri.split(".", 1)[0] for region, uri in sorted(by_region.items())}
        if accounts not in registries:
            registries.append(accounts)
        images.setdefault(key, {}).setdefault(scope, {})[version] = [suffixes.pop(), registries.index(accounts)]

    warnings.simplefilter("ignore")
    for framework in FRAMEWORKS:
        for scope in SCOPES:
            for version in _versions(framework, scope):
                by_region = {}
                for region in _regions(framework):
                    try:
                        by_region[region] = image_uris.retrieve(
                            framework, region, version=version, image_scope=scope, instance_type=CPU_INSTANCE
                        )
                    except (ValueError, KeyError, TypeError):
                        continue
                if by_region:
                    add(framework, scope, version, by_region)
    for name, framework, version in (("model-monitor", "model-monitor", None), ("clarify", "clarify", "1.0")):
        by_region = {}
        for region in _regions(framework):
            try:
                by_region[region] = image_uris.retrieve(framework, region, version=version)
            except (ValueError, KeyError, TypeError):
                continue
        add(name, "processing", version or "", by_region)
    return {"registries": registries, "images": images}


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    output.write_text(json.dumps(build_table(), sort_keys=True, separators=(",", ":")) + "\n")
    print(f"wrote {output} ({output.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
