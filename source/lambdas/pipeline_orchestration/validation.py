# SPDX-License-Identifier: Apache-2.0
"""Validate a provisioning request against the catalogue: every problem at once, before any AWS call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.shared.errors import BadRequest, FieldError, ValidationFailed

from . import perimeter, regions
from .catalogue import (
    ALL_FIELDS,
    CATALOGUE,
    COMMON_OPTIONS,
    NON_REGISTRY_ONLY,
    stack_base_name,
)
from .model_cards import OPERATIONS
from .rules import IGNORED_KEYS, NAME_PATTERN, RESERVED_LOCATIONS, ReservedLocations, RuleBroken, Text, note_under
from .settings import STAGES, Settings
from .spec import Field, Operation, PipelineType

MISSING = object()
STACK_NAME_LIMIT = 128
WRAPPER_SUFFIX = "-codepipeline"
STACKSET_SUFFIX_LENGTH = len("-staging-") + 8  # <base>-<stage>-<first 8 hex of the wrapper stack id>


@dataclass(frozen=True)
class ValidRequest:
    """A request that passed every rule. Stage fields of a staged request hold {dev, staging, prod}."""

    pipeline: PipelineType
    values: Mapping[str, Any]
    staged: bool
    warnings: tuple[str, ...] = ()
    dry_run: bool = False
    owner_team: str = ""  # the team that owns the pipeline, if the request names one

    @property
    def infix(self) -> str:
        return str(self.values[self.pipeline.name_field]).lower()

    @property
    def base_name(self) -> str:
        return stack_base_name(self.pipeline, self.infix)

    def stage_values(self, stage: str | None) -> dict[str, Any]:
        """The values one stage deploys with (stage objects resolved); `None` for a single deployment."""
        if stage is None:
            return dict(self.values)
        return {name: value[stage] if self._is_staged_field(name) else value for name, value in self.values.items()}

    def _is_staged_field(self, name: str) -> bool:
        spec = self.pipeline.field(name)
        return bool(self.staged and spec and spec.stage)

    def request_body(self) -> dict[str, Any]:
        """The normalized request, as it would be posted again (used for history and dry-run answers)."""
        return {"pipeline_type": self.pipeline.name, **self.values}


# Deeper than this no request of ours goes; deeper still, parsing or answering would exhaust the stack.
MAX_NESTING = 32


def nesting_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """How deep objects and lists nest in `value` (counted without recursion), stopping past `limit`."""
    deepest, level = 0, [(value, 0)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            level += [(child, depth) for child in (item.values() if isinstance(item, dict) else item)]
    return deepest


# A body's size and key count are bounded before it is parsed and validated: no request of ours comes near them,
# and a body of many thousands of unknown keys would otherwise cost seconds and an answer of megabytes.
MAX_BODY_BYTES = 256 * 1024
MAX_KEYS = 2000


def key_count(value: Any, limit: int = MAX_KEYS) -> int:
    """How many object keys `value` holds at every depth (counted without recursion), stopping past `limit`."""
    count, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            count += len(item)
            if count > limit:
                return count
            pending += item.values()
        elif isinstance(item, list):
            pending += item
    return count


def too_many_keys(count: int) -> BadRequest:
    return BadRequest(f"Bad request. The request body holds {count} or more keys in all; at most {MAX_KEYS} are read.")


def too_deep() -> ValidationFailed:
    return ValidationFailed([FieldError("(body)", f"nests objects or lists more than {MAX_NESTING} levels deep")])


def suggest(name: str, choices: list[str] | frozenset[str] | tuple[str, ...]) -> str:
    import difflib  # only needed on the error path; keeps the handler's cold start short

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def validate(body: Any, settings: Settings) -> ValidRequest:
    if not isinstance(body, dict):
        raise BadRequest(f"Bad request. The request body must be a JSON object, got {type(body).__name__}.")
    pipeline = _pipeline_type(body)
    staged = settings.multi_account and not pipeline.own_account_only
    errors: list[FieldError] = []
    warnings: list[str] = []
    known = {f.name for f in pipeline.fields}
    _unknown_keys(body, known, pipeline.name, settings, errors, warnings)

    # The registry setting decides which model fields are required. With the registry, the image and artifact
    # fields have no use; without it, the artifact is deployed (below).
    if settings.model_registry and not pipeline.own_account_only:
        for key in NON_REGISTRY_ONLY:
            if key in known and key in body:
                warnings.append(f"{key} is not used when the orchestrator runs with the model registry; it was ignored")
            known.discard(key)

    # Drop-in: without the registry, the predecessor deployed model_artifact_location when a body gave both it and
    # a model_package_name (it sent an empty ModelPackageGroupName); so does this orchestrator, and says so.
    both = {"model_package_name", "model_artifact_location"} <= known & set(body)
    if both and not settings.model_registry and body.get("model_artifact_location"):
        warnings.append(
            "model_package_name was ignored: without the model registry, a request that gives "
            "model_artifact_location deploys that artifact (as the predecessor did)"
        )
        known.discard("model_package_name")

    dry_run = _dry_run(body, errors)
    owner_team = _owner_team(body, errors)
    values = _lenient_fields(pipeline, body, known, staged, settings, errors, warnings)
    request = ValidRequest(pipeline, values, staged, tuple(warnings), bool(dry_run))
    errors += _cross_checks(request, settings, names_too=not errors)
    if errors:
        raise ValidationFailed(errors + _registry_hint(body, settings, errors), warnings)
    return ValidRequest(pipeline, values, staged, tuple(warnings), bool(dry_run), owner_team)


def _registry_hint(body: Mapping[str, Any], settings: Settings, errors: list[FieldError]) -> list[FieldError]:
    """A request written for the model registry (a package and none of the model fields), sent to an orchestrator
    without it: say so, with the way out. A package beside model fields is a deliberate choice, not this."""
    if settings.model_registry or "model_package_name" not in body:
        return []
    if any(key in body for key in NON_REGISTRY_ONLY) or not any(e.field in NON_REGISTRY_ONLY for e in errors):
        return []
    message = (
        "alone is enough only when the orchestrator uses the model registry (UseModelRegistry=Yes; --model-registry "
        "for mlops validate, plan and local); this one runs without it: give the model fields above too"
    )
    return [FieldError("model_package_name", message)]


def _unknown_keys(
    body: Mapping[str, Any],
    known: set[str],
    kind: str,
    settings: Settings,
    errors: list[FieldError],
    warnings: list[str],
) -> None:
    """Keys that are no field of the request type: ignored with a warning (as the predecessor ignored them), or
    refused when the orchestrator runs strict."""
    for key in body:
        if key in known or key in COMMON_OPTIONS:
            continue
        where = "a field of another pipeline type, not" if key in ALL_FIELDS else "not a known field"
        problem = f"is {where} of {kind}{suggest(key, sorted(known))}"
        if settings.strict_validation:
            errors.append(FieldError(key, problem))
        else:
            warnings.append(f"{key} {problem}; it was ignored")


def _lenient_fields(
    kind: PipelineType | Operation,
    body: Mapping[str, Any],
    known: set[str],
    staged: bool,
    settings: Settings,
    errors: list[FieldError],
    warnings: list[str],
) -> dict[str, Any]:
    """The fields' values; unknown keys inside objects are warned about and dropped, unless strict."""
    ignored: list[tuple[str, str]] | None = None if settings.strict_validation else []
    token = IGNORED_KEYS.set(ignored)
    reserved = RESERVED_LOCATIONS.set(reserved_locations(settings))
    try:
        values = _field_values(kind, body, known, staged, settings, errors)
    finally:
        RESERVED_LOCATIONS.reset(reserved)
        IGNORED_KEYS.reset(token)
    warnings += [f"{path} {message}" for path, message in ignored or []]
    return values


def reserved_locations(settings: Settings) -> ReservedLocations:
    """The orchestrator's buckets as the location rules judge them."""
    return ReservedLocations(
        assets_bucket=settings.assets_bucket,
        reserved_buckets=tuple(b for b in (settings.artifact_bucket, settings.blueprint_bucket) if b),
    )


def _dry_run(body: Mapping[str, Any], errors: list[FieldError]) -> bool:
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        errors.append(FieldError("dry_run", "must be true or false"))
        return False
    return dry_run


# A team's name as IAM tag values allow it (the value of the caller role's TeamTagKey tag).
OWNER_TEAM = Text(
    max_len=256,
    pattern=r"[\w.:/=+@ -]+",
    pattern_hint="must be a team name: letters, digits, spaces and _ . : / = + - @ (an IAM tag value)",
    numbers_ok=False,
    allow_empty=True,
)


def _owner_team(body: Mapping[str, Any], errors: list[FieldError]) -> str:
    try:
        return str(OWNER_TEAM.check(body.get("owner_team")))
    except RuleBroken as broken:
        errors.append(FieldError("owner_team", str(broken)))
        return ""


def _field_values(
    kind: PipelineType | Operation,
    body: Mapping[str, Any],
    known: set[str],
    staged: bool,
    settings: Settings,
    errors: list[FieldError],
) -> dict[str, Any]:
    """Each known field's normalized value (its default when blank); broken rules are added to `errors`.

    A pipeline field given as null counts as left out (as the predecessor's bodies used it); an operation's
    (model cards) must be left out instead."""
    values: dict[str, Any] = {}
    blank: list[Field] = []
    for spec in kind.fields:
        if spec.name not in known:
            continue
        raw = body.get(spec.name, MISSING)
        if raw is None and isinstance(kind, Operation):
            errors.append(FieldError(spec.name, "must not be null: give a value, or leave the field out"))
            continue
        if raw is MISSING or raw is None or (isinstance(raw, str) and not raw.strip()):
            blank.append(spec)
            continue
        value = _check_field(spec, raw, kind, staged, errors)
        if value is not MISSING:
            values[spec.name] = value

    for spec in blank:
        if spec.is_required(values, settings):
            reason = spec.required.text if not isinstance(spec.required, bool) else "is required"
            errors.append(FieldError(spec.name, reason if reason.startswith("is ") else f"is {reason}"))
        elif spec.default is not None:
            values[spec.name] = _replicate(spec.default, spec, staged)
    return values


@dataclass(frozen=True)
class ValidOperation:
    """A valid request for an operation that is not a pipeline (the model-card operations)."""

    operation: Operation
    values: Mapping[str, Any]
    dry_run: bool = False
    warnings: tuple[str, ...] = ()

    def request_body(self) -> dict[str, Any]:
        return {"pipeline_type": self.operation.name, **self.values}


def validate_request(body: Any, settings: Settings) -> ValidRequest | ValidOperation:
    """Validate any body posted to /provisionpipeline: a pipeline request or an operation such as a model card."""
    if nesting_depth(body) > MAX_NESTING:  # a config file reaches here without the API's parsing
        raise too_deep()
    if isinstance(body, dict) and _type_name(body) in OPERATIONS:
        return validate_operation(body, settings)
    return validate(body, settings)


def validate_operation(body: Mapping[str, Any], settings: Settings) -> ValidOperation:
    operation = OPERATIONS[str(_type_name(body))]
    known = {f.name for f in operation.fields}
    errors: list[FieldError] = []
    warnings: list[str] = []
    _unknown_keys(body, known, operation.name, settings, errors, warnings)
    dry_run = _dry_run(body, errors)
    values = _lenient_fields(operation, body, known, False, settings, errors, warnings)
    warnings += operation.notes(values)
    if errors:
        raise ValidationFailed(errors)
    return ValidOperation(operation, values, dry_run, tuple(warnings))


def _type_name(body: Mapping[str, Any]) -> str | None:
    raw = body.get("pipeline_type")
    return raw.strip() if isinstance(raw, str) else None


def _pipeline_type(body: Mapping[str, Any]) -> PipelineType:
    raw = body.get("pipeline_type")
    name = _type_name(body)
    if name in CATALOGUE:
        return CATALOGUE[name]
    names = sorted([*CATALOGUE, *OPERATIONS])
    if raw is None:
        message = f"is required; one of {', '.join(names)}"
    else:
        message = f"'{raw}' is not supported{suggest(str(raw), names)} (supported: {', '.join(names)})"
    raise ValidationFailed([FieldError("pipeline_type", message)])


def _replicate(value: Any, spec: Field, staged: bool) -> Any:
    return {stage: value for stage in STAGES} if staged and spec.stage else value


def _broken(name: str, broken: RuleBroken) -> list[FieldError]:
    """One error per problem, each at its path inside the field's value."""
    return [
        FieldError(name + (path if path.startswith("[") or not path else f".{path}"), message)
        for path, message in broken.problems
    ]


def _check_field(
    spec: Field, raw: Any, pipeline: PipelineType | Operation, staged: bool, errors: list[FieldError]
) -> Any:
    is_stage_object = spec.stage and isinstance(raw, dict) and bool(set(raw) & set(STAGES))
    if not is_stage_object:
        try:
            return _replicate(note_under(spec.name, IGNORED_KEYS.get(), spec.rule.check, raw), spec, staged)
        except RuleBroken as broken:
            errors.extend(_broken(spec.name, broken))
            return MISSING
    if not staged:
        where = (
            f"{pipeline.name} deploys in the orchestrator's own account only"
            if getattr(pipeline, "own_account_only", False)
            else "this orchestrator is single-account"
        )
        errors.append(FieldError(spec.name, f"must be one value, not a dev/staging/prod object: {where}"))
        return MISSING
    result: dict[str, Any] = {}
    for key in raw:
        if key not in STAGES:
            errors.append(FieldError(f"{spec.name}.{key}", f"is not a stage; stages are {', '.join(STAGES)}"))
    for stage in STAGES:
        if stage not in raw or raw[stage] is None or raw[stage] == "":
            if spec.required is not False:  # a required field (even conditionally) names every stage
                errors.append(
                    FieldError(f"{spec.name}.{stage}", "is required: a stage object needs all of dev, staging and prod")
                )
                continue
            result[stage] = spec.default
            continue
        try:
            result[stage] = note_under(f"{spec.name}.{stage}", IGNORED_KEYS.get(), spec.rule.check, raw[stage])
        except RuleBroken as broken:
            errors.extend(_broken(f"{spec.name}.{stage}", broken))
    return result if len(result) == len(STAGES) else MISSING


def _staged(field: str, stage: str | None, request: ValidRequest) -> str:
    """The field's name, with the stage when its value was a dev/staging/prod object."""
    return f"{field}.{stage}" if stage and request._is_staged_field(field) else field


def _cross_checks(request: ValidRequest, settings: Settings, names_too: bool) -> list[FieldError]:
    """Rules across fields; derived names are checked only once every field is valid on its own."""
    import re

    found: dict[tuple[str, str], None] = {}
    stages: tuple[str | None, ...] = STAGES if request.staged else (None,)
    for stage in stages:
        values = request.stage_values(stage)
        for check in request.pipeline.checks:
            for field, message in check(values, settings):
                found[(field, message)] = None
        for field, message in perimeter.problems(request.pipeline.fields, values, settings):
            found[(_staged(field, stage, request), message)] = None
        for field, message in regions.other_region(values, settings.region):
            found[(field, message)] = None
        if not names_too:
            continue
        for key, (name, limit, source) in request.pipeline.names(values).items():
            label = key.replace("_", " ")
            if len(name) > limit:
                found[
                    (
                        source,
                        f"is too long: the {label} '{name}' would be {len(name)} characters, SageMaker allows {limit}",
                    )
                ] = None
            elif not re.fullmatch(NAME_PATTERN, name):
                found[(source, f"gives an illegal {label} '{name}'")] = None

    if not names_too:
        return [FieldError(field, message) for field, message in found]
    base = request.base_name
    limit = STACK_NAME_LIMIT - (len(WRAPPER_SUFFIX) if not request.pipeline.direct_stack else 0)
    if request.staged:
        limit = min(limit, STACK_NAME_LIMIT - STACKSET_SUFFIX_LENGTH)
    if len(base) > limit:
        field = request.pipeline.name_field
        found[(field, f"is too long: the stack name '{base}' leaves room for at most {limit} characters")] = None
    return [FieldError(field, message) for field, message in found]
