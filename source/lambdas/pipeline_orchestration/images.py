# SPDX-License-Identifier: Apache-2.0
"""Image URIs of SageMaker's built-in algorithms, framework containers, Model Monitor and Clarify.

Read from `image_uris.json`, generated at build time from the `sagemaker` package's own data
(infrastructure/build/image_table.py), so no Lambda imports the SageMaker SDK.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("image_uris.json")


class ImageNotFound(LookupError):
    """No image for that framework, version or region; the message lists what is available."""


@cache
def _table() -> dict[str, Any]:
    return json.loads(TABLE.read_text())


def _domain(region: str) -> str:
    if region.startswith("cn-"):
        return "amazonaws.com.cn"
    if region.startswith("us-iso-"):
        return "c2s.ic.gov"
    if region.startswith("us-isob-"):
        return "sc2s.sgov.gov"
    return "amazonaws.com"


def _uri(entry: list[Any], region: str, what: str) -> str:
    repository_and_tag, registry_id = entry
    registry = _table()["registries"][registry_id]
    if region not in registry:
        raise ImageNotFound(f"{what} has no image in region {region}; regions: {', '.join(sorted(registry))}")
    return f"{registry[region]}.dkr.ecr.{region}.{_domain(region)}/{repository_and_tag}"


def aws_image_accounts(region: str) -> frozenset[str]:
    """The accounts whose ECR registries hold AWS's SageMaker images in `region` (the table's registries)."""
    return frozenset(registry[region] for registry in _table()["registries"] if region in registry)


def frameworks(scope: str = "inference") -> dict[str, list[str]]:
    """Every framework with its versions, for error messages and docs."""
    return {name: sorted(scopes[scope]) for name, scopes in sorted(_table()["images"].items()) if scope in scopes}


def framework_image(framework: str, version: str, region: str, scope: str = "inference") -> str:
    versions = _table()["images"].get(framework, {}).get(scope)
    if versions is None:
        import difflib  # only on the error path

        close = difflib.get_close_matches(framework, list(frameworks(scope)), n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ImageNotFound(f"unknown framework '{framework}'{hint} (available: {', '.join(frameworks(scope))})")
    if version not in versions:
        raise ImageNotFound(
            f"unknown version '{version}' of {framework}; available versions: {', '.join(sorted(versions))}"
        )
    return _uri(versions[version], region, f"{framework} {version}")


def framework_problem(framework: str, version: str, region: str, scope: str = "inference") -> str | None:
    """Why no image can be found, or None when one can."""
    try:
        framework_image(framework, version, region, scope)
    except ImageNotFound as error:
        return str(error)
    return None


def model_monitor_image(region: str) -> str:
    return _uri(_table()["images"]["model-monitor"]["processing"][""], region, "Model Monitor")


# The scikit-learn framework image that SageMaker's SKLearnProcessor runs processing jobs on (the SDK retrieves
# its training scope); every account can use it, and it already holds numpy, pandas, scipy and scikit-learn.
ENGINE_FRAMEWORK, ENGINE_FRAMEWORK_VERSION = "sklearn", "1.2-1"


def monitoring_engine_image(region: str) -> str:
    """The image the open monitoring engine's baseline and analysis jobs run on."""
    return framework_image(ENGINE_FRAMEWORK, ENGINE_FRAMEWORK_VERSION, region, "training")


def clarify_image(region: str) -> str:
    return _uri(_table()["images"]["clarify"]["processing"]["1.0"], region, "Clarify")
