# SPDX-License-Identifier: Apache-2.0
"""The CLI's exit codes, one meaning each, and the help line that lists them."""

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_MONITOR_ALERT = 0, 1, 2, 3, 4, 5
EXIT_CODES_HELP = (
    "exit codes: 0 success, 1 failure (a FAILED pipeline, an unreachable API, a port in use), "
    "2 invalid request or usage, 3 not found, 4 conflict (for example a pipeline still running), "
    "5 a monitor whose latest execution found violations or failed (VIOLATIONS, MONITORING_FAILED)"
)
