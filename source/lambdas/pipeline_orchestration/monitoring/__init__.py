# SPDX-License-Identifier: Apache-2.0
"""The monitoring loop: a monitor's executions become a metric, its alarm a notification and, when the request
asks for it, a retraining.

Its rooms: `monitors` (which monitor pipeline a schedule or an alarm belongs to), `reports` (where an execution's
reports are, and their violations), `events` (the intake of the execution and alarm events), `retraining`, and
`history` (describe's monitoring section).
"""

from .. import lifecycle
from .events import (
    ALARM_EVENT,
    DIMENSION,
    HISTORY,
    METRIC,
    NAMESPACE,
    PROCESSING_JOB_EVENT,
    TERMINAL_STATUSES,
    is_monitoring_event,
    on_alarm,
    on_execution,
    on_monitoring_event,
    schedule_of_job,
)
from .history import history
from .monitors import (
    ALARM_SUFFIX,
    Monitor,
    alarm_name,
    find_monitor,
    is_monitor_type,
    monitor_of,
    schedule_names,
    schedule_taken,
)
from .reports import VIOLATIONS_FILE, Violations, execution_summary, read_violations, report_location
from .retraining import check_retrain_target, last_retraining, retrain, retraining_request

__all__ = [
    "ALARM_EVENT",
    "ALARM_SUFFIX",
    "DIMENSION",
    "HISTORY",
    "METRIC",
    "NAMESPACE",
    "PROCESSING_JOB_EVENT",
    "TERMINAL_STATUSES",
    "VIOLATIONS_FILE",
    "Monitor",
    "Violations",
    "alarm_name",
    "check_retrain_target",
    "execution_summary",
    "find_monitor",
    "history",
    "is_monitor_type",
    "is_monitoring_event",
    "last_retraining",
    "lifecycle",
    "monitor_of",
    "on_alarm",
    "on_execution",
    "on_monitoring_event",
    "read_violations",
    "report_location",
    "retrain",
    "retraining_request",
    "schedule_names",
    "schedule_of_job",
    "schedule_taken",
]
