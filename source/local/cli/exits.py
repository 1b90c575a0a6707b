# SPDX-License-Identifier: Apache-2.0
"""The CLI's exit codes, one meaning each, and the help line that lists them."""

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_MONITOR_ALERT = 0, 1, 2, 3, 4, 5
EXIT_TRY_AGAIN = 6
# The API's answers that say "not now": AWS throttled the orchestrator or was unavailable (with Retry-After).
TRY_AGAIN_STATUSES = (502, 503, 504)
EXIT_CODES_HELP = (
    "exit codes: 0 success, 1 failure (a FAILED or ROLLED_BACK pipeline, an unreachable API, a port in use, a watch "
    "that timed out), 2 invalid request or usage, 3 not found, 4 conflict (for example a pipeline still running), "
    "5 a monitor whose latest execution found violations or failed (VIOLATIONS, MONITORING_FAILED), "
    "6 try again: AWS throttled the orchestrator or was unavailable (the API answered 502, 503 or 504), or the "
    "pipeline's state is UNKNOWN because a source of it could not be read"
)
