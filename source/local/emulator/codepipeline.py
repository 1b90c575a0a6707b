# SPDX-License-Identifier: Apache-2.0
"""CodePipeline: the job results that Lambda actions report, recorded for the local pipeline runner."""

from __future__ import annotations

from typing import Any

from .patches import replace

# CodePipeline job results reported by the functions of Lambda actions, by job id (read by the runner).
JOB_RESULTS: dict[str, dict[str, Any]] = {}


def record_codepipeline_job_results() -> None:
    """moto implements no PutJobSuccessResult/PutJobFailureResult: the emulator records them for the runner."""
    from moto.codepipeline.responses import CodePipelineResponse

    def put_job_success_result(self: Any) -> str:
        JOB_RESULTS[self._get_param("jobId")] = {
            "kind": "success",
            "continuationToken": self._get_param("continuationToken") or "",
            "summary": (self._get_param("executionDetails") or {}).get("summary", ""),
        }
        return "{}"

    def put_job_failure_result(self: Any) -> str:
        details = self._get_param("failureDetails") or {}
        JOB_RESULTS[self._get_param("jobId")] = {"kind": "failure", "message": details.get("message", "")}
        return "{}"

    replace(CodePipelineResponse, "put_job_success_result", put_job_success_result)
    replace(CodePipelineResponse, "put_job_failure_result", put_job_failure_result)
