# SPDX-License-Identifier: Apache-2.0
"""The shapes the catalogue is written in: request fields, blueprints and pipeline types."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .rules import Rule
from .settings import Settings

# A cross-field check sees the normalized values of one stage (or of the single deployment).
CrossCheck = Callable[[Mapping[str, Any], Settings], list[tuple[str, str]]]
ParameterBuilder = Callable[["StageView"], dict[str, str]]


@dataclass(frozen=True)
class When:
    """A condition under which a field is required; `text` says it in words for errors and docs."""

    test: Callable[[Mapping[str, Any], Settings], bool]
    text: str
    # The same condition for the API document: a JSON Schema the body matches when the field is required, or,
    # for a condition on the orchestrator's settings, whether it holds with the default settings.
    schema_if: Mapping[str, Any] | None = None
    by_default: bool = False


@dataclass(frozen=True)
class Field:
    name: str
    rule: Rule
    required: bool | When = False
    default: Any = ""
    stage: bool = False  # may be a {"dev","staging","prod"} object in multi-account mode
    doc: str = ""

    def is_required(self, values: Mapping[str, Any], settings: Settings) -> bool:
        if isinstance(self.required, When):
            return self.required.test(values, settings)
        return self.required


@dataclass(frozen=True)
class Blueprint:
    """A CloudFormation template we synthesize, and the parameters it declares (the contract)."""

    template: str
    parameters: tuple[str, ...]


@dataclass(frozen=True)
class PipelineType:
    name: str
    postfix: str
    blueprint: Blueprint
    fields: tuple[Field, ...]
    build_parameters: ParameterBuilder
    checks: tuple[CrossCheck, ...] = ()
    # Training types and the image builder deploy in the orchestrator's own account, in every mode.
    own_account_only: bool = False
    # The image builder is its own pipeline: its stack is created directly, with no wrapper.
    direct_stack: bool = False
    name_field: str = "model_name"
    description: str = ""

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


# An operation's action: (validated values, settings, AWS adapters) -> the answer's body.
OperationRun = Callable[[Mapping[str, Any], Settings, Any], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    """A request type that is not a pipeline (the model-card operations): fields, and what it does."""

    name: str
    fields: tuple[Field, ...]
    run: OperationRun
    description: str = ""
    # Warnings about values that are accepted but have no effect: (values) -> sentences.
    warn: Callable[[Mapping[str, Any]], list[str]] | None = None

    def notes(self, values: Mapping[str, Any]) -> list[str]:
        return self.warn(values) if self.warn else []

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class StageView:
    """What a parameter builder reads: one stage's values, the stage's names and the settings."""

    values: Mapping[str, Any]
    settings: Settings
    pipeline_name: str
    stage: str | None = None
    names: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        value = self.values.get(key, "")
        return "" if value is None else value

    def text(self, key: str) -> str:
        """A value as a CloudFormation parameter string."""
        import json

        value = self.get(key)
        if isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"), sort_keys=True) if value else ""
        return str(value)
