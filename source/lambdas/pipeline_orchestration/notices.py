# SPDX-License-Identifier: Apache-2.0
"""Text that reaches people: SNS e-mails and CodeCommit comments.

Requests are written by anyone who may commit a config file. What they put in names, unknown keys or values that
an error quotes must not read as the orchestrator's own words: it is quoted, on one line, and a URL loses its
scheme, so a config file cannot write a paragraph with a link into the mail approvers read.
"""

from __future__ import annotations

import re

from lambdas.shared.logging import get_logger

from .adapters import Aws
from .identity import Principal
from .settings import Settings

logger = get_logger(__name__)

MAX_QUOTED = 300
_LINE_BREAKS = re.compile(r"[\r\n\u0085\u2028\u2029\x00-\x1f\x7f]+")
_SCHEME = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,15})://")
_MAILTO = re.compile(r"\b(mailto|javascript|data):", re.IGNORECASE)


def flatten(text: object) -> str:
    """One line, without the schemes that make a URL a link (`https://x` becomes `x`)."""
    line = _LINE_BREAKS.sub(" ", str(text))
    line = _SCHEME.sub("", line)
    line = _MAILTO.sub("", line)
    return line.strip()


def quoted(text: object) -> str:
    """Untrusted text as a quotation: one line, no link schemes, at most MAX_QUOTED characters, in quotes."""
    line = flatten(text).replace('"', "'")
    if len(line) > MAX_QUOTED:
        line = line[: MAX_QUOTED - 1] + "…"
    return f'"{line}"'


def publish(settings: Settings, aws: Aws, subject: str, message: str) -> None:
    """A notice on the orchestrator's topic; the subject is one line, as SNS requires."""
    aws.notifier.publish(settings.sns_topic_arn, flatten(subject), message)


def by(principal: Principal) -> str:
    """Who acted, as a notice names them: quoted, for a commit author's name is whatever the commit says."""
    return quoted(principal.label)


def decision(
    settings: Settings, aws: Aws, pipeline_name: str, stage: str, verdict: str, principal: Principal, comment: str
) -> None:
    """An approval or rejection: who decided what, with their comment."""
    lines = [
        f"The {stage} approval of pipeline {pipeline_name} was {verdict}.",
        f"{verdict.capitalize()} by: {by(principal)}",
        f"Comment: {quoted(comment)}" if comment else "Comment: none",
    ]
    publish(settings, aws, f"MLOps {stage} {verdict}: {pipeline_name}", "\n".join(lines))


def change(settings: Settings, aws: Aws, pipeline_name: str, action: str, principal: Principal, outcome: str) -> None:
    """A change a caller made to a pipeline (provision, update, retry, stop, rollback, delete): who, and how it
    went. The pipeline's own notice says how its execution ends."""
    lines = [f"Pipeline {pipeline_name}: {action} {outcome}.", f"By: {by(principal)}"]
    publish(settings, aws, f"MLOps pipeline {action} {outcome}: {pipeline_name}", "\n".join(lines))
