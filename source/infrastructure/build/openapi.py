# SPDX-License-Identifier: Apache-2.0
"""Generate the orchestrator API's OpenAPI document from the catalogue, the model-card operations and the routes.

Each request type's fields, their rules' JSON Schema, required/default/stage information and docs come from
the same objects validation runs; the paths come from the handler's ROUTES. The document is committed as
`source/openapi.json`; a unit test fails when it is out of date.

    python -m infrastructure.build.openapi [OUTPUT]
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from lambdas.pipeline_orchestration.catalogue import CATALOGUE, COMMON_OPTIONS
from lambdas.pipeline_orchestration.catalogue.approvals import APPROVAL_BODY
from lambdas.pipeline_orchestration.index import BODY_ROUTE_ERRORS, BODY_ROUTES, PIPELINE_NAME, ROUTES
from lambdas.pipeline_orchestration.lifecycle import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, STATES
from lambdas.pipeline_orchestration.model_cards import OPERATIONS
from lambdas.pipeline_orchestration.pipeline_state import UNKNOWN
from lambdas.pipeline_orchestration.rules import Rule
from lambdas.pipeline_orchestration.service import PIPELINE_ID_PATTERN
from lambdas.pipeline_orchestration.settings import STAGES
from lambdas.pipeline_orchestration.spec import Field, Operation, PipelineType, When

SOURCE = Path(__file__).resolve().parents[2]
OUTPUT = SOURCE / "openapi.json"
REF = "#/components/schemas/"
LENIENCY = (
    "Keys that are no field of this type are ignored and named in the answer's warnings (refused when the "
    "orchestrator runs with StrictValidation). Required fields are those of an orchestrator without the model "
    "registry; with it, model_package_name replaces the model image and artifact fields."
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def value_schema(rule: Rule) -> dict[str, Any]:
    """A rule's schema with the rules every value obeys: not blank (unless the rule allows it)."""
    schema = dict(rule.schema())
    if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
        schema["pattern"] = r"\S"  # the server strips values: one that is only spaces is empty
    if rule.allow_empty and schema.get("type") == "string" and "enum" not in schema:
        schema = {"anyOf": [schema, {"type": "string", "maxLength": 0}]}
    return schema


def field_schema(spec: Field, nullable: bool = False) -> dict[str, Any]:
    schema = value_schema(spec.rule)
    if spec.doc:
        schema["description"] = spec.doc
    if spec.default not in ("", None):
        schema["default"] = spec.default
    if not isinstance(spec.required, bool):
        schema["x-required-when"] = spec.required.text
    if spec.stage:
        per_stage = {k: v for k, v in schema.items() if k != "description"}
        schema = {
            "description": f"{spec.doc} In multi-account mode, one value or a {{dev, staging, prod}} object.".strip(),
            "oneOf": [
                per_stage,
                {
                    "type": "object",
                    "properties": {stage: per_stage for stage in STAGES},
                    "additionalProperties": False,
                },
            ],
        }
    if nullable and spec.required is False:  # null stands for "left out" in a pipeline request
        schema = {"anyOf": [schema, {"type": "null"}], **({"description": spec.doc} if spec.doc else {})}
    return schema


def _conditions(kind: PipelineType | Operation) -> list[dict[str, Any]]:
    """Fields required only under a condition on the body: one if/then per condition."""
    groups: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for spec in kind.fields:
        when = spec.required
        if isinstance(when, When) and when.schema_if is not None:
            key = json.dumps(when.schema_if, sort_keys=True)
            groups.setdefault(key, (dict(when.schema_if), []))[1].append(spec.name)
    return [{"if": condition, "then": {"required": names}} for condition, names in groups.values()]


def _required(spec: Field) -> bool:
    """Required in the document: always, or under the default settings (no model registry, one account)."""
    return spec.required is True or (isinstance(spec.required, When) and spec.required.by_default)


def request_schema(kind: PipelineType | Operation) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "pipeline_type": {"type": "string", "enum": [kind.name]},
        "dry_run": {"type": "boolean", "default": False, "description": "Validate and plan; change nothing."},
    }
    pipeline = isinstance(kind, PipelineType)
    if pipeline:
        properties["owner_team"] = {
            "type": "string",
            "maxLength": 256,
            "description": "The team that owns the pipeline (with TeamTagKey: the caller role's tag of that key).",
        }
    properties.update({spec.name: field_schema(spec, nullable=pipeline) for spec in kind.fields})
    schema: dict[str, Any] = {
        "type": "object",
        "title": kind.name,
        "properties": properties,
        "required": ["pipeline_type", *[f.name for f in kind.fields if _required(f)]],
        # Other keys are ignored with a warning; an orchestrator deployed with StrictValidation refuses them.
        "additionalProperties": True,
    }
    conditions = _conditions(kind)
    if conditions:
        schema["allOf"] = conditions
    description = kind.description + (" " if kind.description else "") + LENIENCY
    schema["description"] = description.strip()
    if isinstance(kind, PipelineType):
        schema["x-blueprint"] = kind.blueprint.template
        schema["x-own-account-only"] = kind.own_account_only
    return schema


_ERROR = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "detailedMessage": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
        "warnings": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Keys of the request that were ignored (unknown, or of another type), with the errors.",
        },
    },
    "required": ["message", "errors"],
}
_PIPELINE_SUMMARY = {
    "type": "object",
    "properties": {
        "pipeline_name": {"type": "string"},
        "pipeline_type": {"type": "string", "enum": sorted(CATALOGUE)},
        "mode": {"type": "string", "enum": ["single-account", "multi-account"]},
        "state": {"type": "string", "enum": [*STATES, UNKNOWN]},
        "reason": {
            "type": "string",
            "description": "Why the pipeline is in its state: where it failed, waits or runs.",
        },
        "stage": {"type": "string", "description": "The CodePipeline stage running, waiting or failed."},
        "approval_stage": {"type": "string", "description": "WAITING_APPROVAL: the stage to approve (staging, prod)."},
        "execution_id": {"type": "string", "description": "The latest CodePipeline execution."},
        "stack_name": {"type": "string"},
        "stack_status": {"type": "string"},
        "pipeline_id": {"type": "string"},
        "created": {"type": "string", "format": "date-time"},
        "updated": {"type": "string", "format": "date-time"},
    },
}
_ANSWERS: dict[str, Any] = {
    "Error": _ERROR,
    "PipelineSummary": _PIPELINE_SUMMARY,
    "PipelineList": {
        "type": "object",
        "properties": {
            "pipelines": {"type": "array", "items": _ref("PipelineSummary")},
            "next_token": {"type": ["string", "null"], "description": "Send it back to get the next page."},
        },
    },
    "PipelineDescription": {
        "allOf": [
            _ref("PipelineSummary"),
            {
                "type": "object",
                "properties": {
                    "request": {"type": ["object", "null"], "description": "The request last provisioned."},
                    "plan": {"type": ["object", "null"]},
                    "codepipeline": {"type": "object", "description": "CodePipeline state by stage."},
                    "deployed": {"type": "object", "description": "Blueprint stack, or StackSet instance by stage."},
                    "sagemaker": {"type": "object", "description": "Endpoint, jobs and schedules behind it."},
                    "teardown": {"type": "object", "description": "Present while the pipeline is being deleted."},
                },
            },
        ]
    },
    "Teardown": {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "pipeline_name": {"type": "string"},
            "done": {"type": "boolean"},
            "started": {"type": "array", "items": {"type": "string"}},
            "waiting_for": {"type": "array", "items": {"type": "string"}},
            "remaining": {"type": "array", "items": {"type": "string"}},
            "kept": {
                "type": "array",
                "description": "Resources holding user data, left in place.",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string"},
                        "what": {"type": "string"},
                        "location": {"type": "string"},
                    },
                },
            },
        },
    },
    "ProvisionAnswer": {
        "type": "object",
        "properties": {
            "message": {"description": "A sentence, or the SageMaker answer of a model-card operation."},
            "pipeline_id": {"type": "string"},
            "dry_run": {"type": "boolean"},
            "action": {"type": "string", "enum": ["create", "update"]},
            "stacks": {"type": "array", "items": {"type": "object"}},
            "plan": {"type": "object"},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "state": {"type": "string", "description": "An unchanged re-post: the state of the pipeline posted."},
            "previous_execution": {
                "type": "object",
                "description": "A retry: the execution that was the latest before it; a watch follows the next one.",
            },
        },
    },
    "Stop": {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "pipeline_name": {"type": "string"},
            "execution_id": {"type": "string", "description": "The execution being stopped."},
        },
    },
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before sending the request again.", "schema": {"type": "integer"}}
}
# AWS was busy or silent: the request may succeed when sent again (lambdas/shared/aws.py decides which).
_TRY_AGAIN = {
    502: "The connection to AWS was lost during a call (named in detailedMessage); send the request again",
    503: "AWS throttled a call or failed on its side (named in detailedMessage); send the request again",
    504: "An AWS call did not answer in time (named in detailedMessage); send the request again",
}


def _errors(*statuses: int) -> dict[str, Any]:
    words = {
        400: "Invalid request",
        403: "Another principal owns the pipeline, or must approve",
        404: "Unknown pipeline",
        409: "The pipeline is running",
        413: "The body is over 256 KiB",
        500: "Server error",
    }
    answers = {str(s): _json("Error", words[s]) for s in (*statuses, 500)}
    answers.update({str(s): {**_json("Error", w), "headers": _RETRY_AFTER} for s, w in _TRY_AGAIN.items()})
    return answers


_NAME = {
    "name": "pipeline_name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": f"^{PIPELINE_NAME.pattern}$"},
}


def _any_case(words: tuple[str, ...] | list[str]) -> str:
    """A pattern matching any of the words in any letter case (JSON Schema patterns take no flags)."""
    spelled = ["".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word) for word in words]
    return f"^({'|'.join(spelled)})$"


# What each route does; every ROUTES key must be here (the test of the document checks it).
ROUTE_DOCS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/provisionpipeline"): {
        "summary": "Provision a pipeline, dry-run one, or run a model-card operation (by pipeline_type).",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Request")}}},
        "responses": {"200": _json("ProvisionAnswer", "Started, planned or done"), **_errors(400, 404, 409)},
    },
    ("POST", "/pipelinestatus"): {
        "summary": "CodePipeline state and deployed stacks of a pipeline, by the pipeline_id provisioning answered.",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "pipeline_id": {
                                "type": "string",
                                "pattern": f"^({PIPELINE_ID_PATTERN})$",
                                "description": "The stack ARN /provisionpipeline answered, or the stack's name.",
                            }
                        },
                        "required": ["pipeline_id"],
                    }
                }
            },
        },
        "responses": {"200": {"description": "The pipeline's state"}, **_errors(400, 404)},
    },
    ("GET", "/pipelines"): {
        "summary": "The pipelines this orchestrator manages, newest first.",
        "parameters": [
            {"name": "pipeline_type", "in": "query", "schema": {"type": "string", "enum": sorted(CATALOGUE)}},
            {
                "name": "state",
                "in": "query",
                "description": f"One of {', '.join(STATES)}, in any letter case.",
                "schema": {"type": "string", "pattern": _any_case(STATES)},
            },
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
            },
            {
                "name": "owner",
                "in": "query",
                "description": "Only pipelines this principal ARN (or team) owns.",
                "schema": {"type": "string", "minLength": 1},
            },
            {"name": "next_token", "in": "query", "schema": {"type": "string", "minLength": 1}},
        ],
        "responses": {"200": _json("PipelineList", "One page of pipelines"), **_errors(400)},
    },
    ("GET", "/pipelines/{pipeline_name}"): {
        "summary": "A pipeline's request, plan, CodePipeline stages, deployed stacks and SageMaker resources.",
        "parameters": [_NAME],
        "responses": {"200": _json("PipelineDescription", "The pipeline"), **_errors(400, 404)},
    },
    ("DELETE", "/pipelines/{pipeline_name}"): {
        "summary": "Tear the pipeline down (deployed stacks, then its CodePipeline stack, then its objects).",
        "parameters": [_NAME],
        "responses": {
            "202": _json("Teardown", "Teardown started, continued, or waiting for another principal's approval"),
            **_errors(400, 403, 404, 409),
        },
    },
    ("POST", "/pipelines/{pipeline_name}/rollback"): {
        "summary": "Re-deploy the previous successful request of a real-time or batch pipeline.",
        "parameters": [_NAME],
        "responses": {
            "200": _json("ProvisionAnswer", "Rollback started, or waiting for another principal's approval"),
            **_errors(400, 403, 404, 409),
        },
    },
    ("GET", "/pipelines/{pipeline_name}/history"): {
        "summary": "Who did what: every provision, update, approval, rejection, rollback and delete, oldest first.",
        "parameters": [_NAME],
        "responses": {"200": {"description": "The pipeline's audit trail"}, **_errors(400, 404)},
    },
    ("POST", "/pipelines/{pipeline_name}/retry"): {
        "summary": "Run the pipeline's current request again: a new execution, recorded as any change is.",
        "parameters": [_NAME],
        "responses": {"200": _json("ProvisionAnswer", "Retry started"), **_errors(400, 404, 409)},
    },
    ("POST", "/pipelines/{pipeline_name}/stop"): {
        "summary": "Stop the pipeline's running execution (its actions in progress are abandoned), e.g. to delete it.",
        "parameters": [_NAME],
        "responses": {"202": _json("Stop", "Stopping the execution"), **_errors(400, 404, 409)},
    },
    ("POST", "/pipelines/{pipeline_name}/approval"): {
        "summary": "Approve or reject what waits: a multi-account pipeline's next stage, a teardown or a rollback.",
        "parameters": [_NAME],
        "requestBody": {"required": True, "content": {"application/json": {"schema": APPROVAL_BODY.schema()}}},
        "responses": {"200": {"description": "The approval was answered"}, **_errors(400, 403, 404, 409)},
    },
}


def build_document() -> dict[str, Any]:
    version = tomllib.loads((SOURCE / "pyproject.toml").read_text())["project"]["version"]
    kinds: list[PipelineType | Operation] = [*CATALOGUE.values(), *OPERATIONS.values()]
    schemas: dict[str, Any] = {kind.name: request_schema(kind) for kind in kinds}
    schemas["Request"] = {
        "oneOf": [_ref(kind.name) for kind in kinds],
        "discriminator": {"propertyName": "pipeline_type", "mapping": {k.name: REF + k.name for k in kinds}},
    }
    schemas.update(_ANSWERS)
    paths: dict[str, dict[str, Any]] = {}
    for method, resource in ROUTES:
        doc = ROUTE_DOCS[(method, resource)]
        if (method, resource) in BODY_ROUTES:
            limits = _errors(*BODY_ROUTE_ERRORS)
            doc = {**doc, "responses": dict(sorted({**doc["responses"], **limits}.items()))}
        paths.setdefault(resource, {})[method.lower()] = {**doc, "security": [{"sigv4": []}]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MLOps orchestrator API",
            "version": version,
            "description": f"Request options every body may carry: {', '.join(COMMON_OPTIONS)}.",
        },
        "paths": {resource: paths[resource] for resource in sorted(paths)},
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                }
            },
        },
    }


def render() -> str:
    return json.dumps(build_document(), indent=2) + "\n"


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    output.write_text(render())
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
