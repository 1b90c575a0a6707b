# SPDX-License-Identifier: Apache-2.0
"""The body of POST /pipelines/{pipeline_name}/approval: which gate, the verdict, and a comment."""

from __future__ import annotations

from ..rules import Choice, Flag, Struct, Text

# The gates a person answers: a multi-account pipeline's stages, and a teardown or rollback that waits for a
# principal other than the one who asked for it.
STAGE_GATES = ("staging", "prod")
TEARDOWN, ROLLBACK = "teardown", "rollback"
GATES = (*STAGE_GATES, TEARDOWN, ROLLBACK)
MAX_COMMENT = 512  # CodePipeline's approval summary holds at most 512 characters

APPROVAL_BODY = Struct(
    keys=(
        ("stage", Choice(values=GATES)),
        ("approved", Flag()),
        ("comment", Text(min_len=0, max_len=MAX_COMMENT, numbers_ok=False, allow_empty=True)),
    ),
    required=("stage",),
    doc="Approve or reject the gate that waits: a stage (staging, prod), or a teardown or rollback.",
)
