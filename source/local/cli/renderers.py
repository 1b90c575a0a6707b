# SPDX-License-Identifier: Apache-2.0
"""Human output: answers as indented `key: value` lines, tables, a pipeline's state, a monitor's executions."""

from __future__ import annotations

from typing import Any


def render(data: Any, indent: int = 0) -> str:
    """Human output of an answer: one `key: value` line per scalar, nested objects and lists indented."""
    pad = "  " * indent
    if isinstance(data, dict):
        lines = []
        for key, value in data.items():
            if isinstance(value, dict | list) and value:
                lines += [f"{pad}{key}:", render(value, indent + 1)]
            else:
                lines.append(f"{pad}{key}: {scalar(value)}")
        return "\n".join(lines)
    if isinstance(data, list):
        lines = []
        for item in data:
            if isinstance(item, dict | list) and item:
                inner = render(item, indent + 1).lstrip()
                lines.append(f"{pad}- {inner}")
            else:
                lines.append(f"{pad}- {scalar(item)}")
        return "\n".join(lines)
    return f"{pad}{scalar(data)}"


def scalar(value: Any) -> str:
    if value is None or value == "" or value == {} or value == []:
        return "-"
    return str(value)


def table(header: list[str], rows: list[list[Any]]) -> str:
    """Rows under a header, in columns as wide as their widest cell."""
    cells = [header, *[[scalar(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def render_state(state: dict[str, Any]) -> str:
    """The pipeline's state and reason, then one part per stage with its status and what waits for approval."""
    parts = []
    for stage in state.get("stageStates", []):
        status = stage.get("latestExecution", {}).get("status", "-")
        waiting = [
            a["actionName"]
            for a in stage.get("actionStates", [])
            if a.get("latestExecution", {}).get("token") and a["latestExecution"].get("status") == "InProgress"
        ]
        parts.append(
            f"{stage['stageName']}: {status}" + (f" (approval {', '.join(waiting)} waiting)" if waiting else "")
        )
    stages = " | ".join(parts) or state.get("message", "")
    if not state.get("state"):
        return stages
    head = state["state"] + (f": {state['reason']}" if state.get("reason") else "")
    return f"{head}\n  {stages}" if stages else head


def pipeline_outcome(state: dict[str, Any]) -> str:
    """The pipeline's state as /pipelinestatus derives it (PROVISIONING when it says none yet)."""
    return str(state.get("state") or "PROVISIONING")


def principal_text(principal: Any) -> str:
    """A principal as one line: its ARN, the role session, and whether AWS verified it."""
    if not isinstance(principal, dict):
        return "-"
    text = str(principal.get("arn", "?")) + (f" (session {principal['session']})" if principal.get("session") else "")
    return text + (" (unverified)" if principal.get("verified") is False else "")


def render_who(body: dict[str, Any]) -> str:
    """Who owns the pipeline, who provisioned and last updated it, and who decided each approval."""
    owner = principal_text(body.get("owner")) if body.get("owner") else "not recorded (created before owners were)"
    lines = [f"owner:          {owner}" + (f" (team {body['owner_team']})" if body.get("owner_team") else "")]
    for key in ("provisioned_by", "updated_by"):
        if isinstance(body.get(key), dict):
            lines.append(f"{key + ':':<15} {principal_text(body[key])} at {body[key].get('at', '?')}")
    for stage, decision in (body.get("approvals") or {}).items():
        verdict = "approved_by" if "approved_by" in decision else "rejected_by"
        line = f"{stage} {verdict.replace('_', ' ')} {principal_text(decision.get(verdict))} at {decision.get('at')}"
        lines.append(line + (f": {decision['comment']}" if decision.get("comment") else ""))
    waiting = body.get("pending_approval")
    if isinstance(waiting, dict):
        lines.append(
            f"{waiting.get('action')} waits for approval (asked by {principal_text(waiting.get('requested_by'))}): "
            f"mlops approve {body.get('pipeline_name')} {waiting.get('action')}"
        )
    return "\n".join(lines)


def render_monitoring(section: dict[str, Any]) -> str:
    """A monitor's schedule, then its last executions as a table, each violation on a line below."""
    if "schedule" not in section:
        return f"monitoring: {section.get('message', '')}"
    head = f"monitoring: schedule {section['schedule']} is {section.get('status', 'UNKNOWN')}"
    head += f" ({section['error']})" if section.get("error") else ""
    head += f"; alarm {section.get('alarm')} at {section.get('violation_threshold')} violations"
    if section.get("retrain_pipeline_name"):
        head += f"; retrains {section['retrain_pipeline_name']}"
    executions = section.get("executions") or []
    if not executions:
        return f"{head}\n  no executions yet"
    rows = [
        [
            e.get("scheduled_time", ""),
            e.get("status", ""),
            e.get("violations_count", "-") if "violations_count" in e else "-",
            e.get("failure_reason") or e.get("report", ""),
        ]
        for e in executions
    ]
    lines = [head, table(["SCHEDULED", "STATUS", "VIOLATIONS", "REPORT OR FAILURE"], rows)]
    for e in executions:
        for v in e.get("violations", []):
            lines.append(f"  {e.get('scheduled_time', '')}: {v['feature']} {v['check']}: {v['description']}")
    return "\n".join(lines)


def error_text(status: int, body: dict[str, Any]) -> str:
    """An error answer, each problem once: the field list when there is one, else the detailed message."""
    errors = body.get("errors") or []
    if errors:
        lines = [f"error {status}: {len(errors)} problem{'s' if len(errors) != 1 else ''}"]
        lines += [f"  {e.get('field') or '(body)'}: {e.get('message', '')}" for e in errors]
        return "\n".join(lines + [f"warning: {w}" for w in body.get("warnings", [])])
    text = str(body.get("detailedMessage") or body.get("message", ""))
    # The API points its callers to its route; a CLI user's way to the same list is a command.
    return f"error {status}: {text.replace('GET /pipelines lists them', 'mlops list shows them')}"
