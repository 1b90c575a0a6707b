# SPDX-License-Identifier: Apache-2.0
"""The one catalogue of pipeline types.

Each blueprint family (a module here, mirroring `infrastructure/blueprints/`) declares its types: request
fields with their rules, defaults and stage capability; the blueprint template and the parameters it
declares; the stack-name postfix; the builder that turns validated values into those parameters; what the
stack deploys (the SageMaker resources describe reads, the jobs it starts), what rollback means for it, the
user data a teardown keeps, the names it derives, its example request. This module registers the families.
The validator, the planner, lifecycle, the adapters, the CDK blueprint stacks and roles, the emulator, the
CLI and the published schema all read these declarations; nothing else lists pipeline types.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..spec import Blueprint, PipelineType
from . import batch, image_builder, monitors, realtime, training
from .batch import BATCH
from .image_builder import IMAGE_BUILDER
from .monitors import DATA_QUALITY, MODEL_BIAS, MODEL_EXPLAINABILITY, MODEL_QUALITY
from .pipelines import MULTI_ACCOUNT_PIPELINE, SINGLE_ACCOUNT_PIPELINE
from .realtime import REALTIME, REALTIME_OPTION_PARAMETERS
from .shared import (
    ARTIFACT_WRITERS_PATH,
    BOUNDARY_PARAMETER,
    NON_REGISTRY_ONLY,
    PIPELINE_PREFIX,
    PROBLEM_TYPES,
    REGISTRY_ONLY,
    STAGE_BOUNDARY_POLICY_NAME,
    short_hash,
)
from .training import AUTOPILOT, TRAINING, TUNER
from .values import SERVERLESS_MEMORY_SIZES

__all__ = [
    "ALL_FIELDS",
    "ARTIFACT_WRITERS_PATH",
    "AUTOPILOT",
    "BATCH",
    "BOUNDARY_PARAMETER",
    "CATALOGUE",
    "COMMON_OPTIONS",
    "DATA_QUALITY",
    "IMAGE_BUILDER",
    "MODEL_BIAS",
    "MODEL_EXPLAINABILITY",
    "MODEL_QUALITY",
    "MULTI_ACCOUNT_PIPELINE",
    "NON_REGISTRY_ONLY",
    "PIPELINE_PREFIX",
    "PROBLEM_TYPES",
    "REALTIME",
    "REALTIME_OPTION_PARAMETERS",
    "REGISTRY_ONLY",
    "SERVERLESS_MEMORY_SIZES",
    "SINGLE_ACCOUNT_PIPELINE",
    "STAGE_BOUNDARY_POLICY_NAME",
    "TRAINING",
    "TUNER",
    "blueprints",
    "derived_names",
    "monitor_kinds",
    "register",
    "registered",
    "retrainable_types",
    "short_hash",
    "stack_base_name",
]

CATALOGUE: dict[str, PipelineType] = {}
# Names of every field of every type: a field of another type is ignored with a warning, not rejected.
ALL_FIELDS: set[str] = set()
# Options every request may carry besides its type's fields.
COMMON_OPTIONS = ("pipeline_type", "dry_run", "owner_team")


def register(*types: PipelineType) -> None:
    """Add pipeline types: the one call a new type needs besides its declaration."""
    for pipeline_type in types:
        if pipeline_type.name in CATALOGUE:
            raise ValueError(f"pipeline type {pipeline_type.name} is already registered")
        if any(t.postfix.lower() == pipeline_type.postfix.lower() for t in CATALOGUE.values()):
            # Stacks are recognized by their postfix: two types sharing one could not be told apart.
            raise ValueError(f"stack-name postfix {pipeline_type.postfix} is already taken")
        CATALOGUE[pipeline_type.name] = pipeline_type
        ALL_FIELDS.update(f.name for f in pipeline_type.fields)


@contextmanager
def registered(*types: PipelineType) -> Iterator[None]:
    """The catalogue with these types added, for as long as the block runs (tests)."""
    register(*types)
    try:
        yield
    finally:
        for pipeline_type in types:
            CATALOGUE.pop(pipeline_type.name, None)
        ALL_FIELDS.clear()
        ALL_FIELDS.update(f.name for t in CATALOGUE.values() for f in t.fields)


def blueprints(types: Iterable[PipelineType] | None = None) -> list[Blueprint]:
    """The distinct blueprints of the given types (default: every type), in catalogue order."""
    found: dict[str, Blueprint] = {}
    for pipeline_type in CATALOGUE.values() if types is None else types:
        for blueprint in pipeline_type.all_blueprints:
            found.setdefault(blueprint.template, blueprint)
    return list(found.values())


def derived_names(pipeline_type: str, values: Mapping[str, Any]) -> dict[str, tuple[str, int, str]]:
    """SageMaker names the plan derives from one stage's values: key -> (name, max length, source field)."""
    return CATALOGUE[pipeline_type].names(values)


def stack_base_name(pipeline: PipelineType, infix: str) -> str:
    """`mlops-pipeline-<infix>-<postfix>`, lower-cased, exactly as the predecessor named its stacks."""
    return f"{PIPELINE_PREFIX}-{infix}-{pipeline.postfix}".lower()


register(*realtime.TYPES, *batch.TYPES, *monitors.TYPES, *image_builder.TYPES, *training.TYPES)


def monitor_kinds() -> dict[str, str]:
    """The monitor types and the kind each names its schedule with."""
    return {t.name: t.monitor_kind for t in CATALOGUE.values() if t.monitor_kind}


def retrainable_types() -> tuple[str, ...]:
    """The training types a monitor may re-provision when its violations alarm fires."""
    return tuple(t.name for t in CATALOGUE.values() if t.retrainable)


def type_named(base: str) -> str:
    """The pipeline type a pipeline's name ends with (its stack-name postfix), or "" for none."""
    return next((t.name for t in CATALOGUE.values() if base.endswith(f"-{t.postfix.lower()}")), "")
