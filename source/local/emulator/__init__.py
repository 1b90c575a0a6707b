# SPDX-License-Identifier: Apache-2.0
"""The embedded AWS emulator: moto's server on 127.0.0.1, with every boto3 client of this process pointed at it.

The fills that make moto behave as AWS does live by service: `cloudformation`, `codepipeline`, `stepfunctions`,
`sagemaker`, `monitoring` (Model Monitor's schedules), `open_engine` (the open engine's jobs and schedules),
`cloudwatch` (alarms), `sns` (published messages), and `placeholders` for the resource types moto does not model;
`patches` undoes them all at stop.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from dataclasses import dataclass, field

from lambdas.shared.aws import reset_clients
from local.moto_version import check_moto

from .cloudformation import CLOUDFORMATION_TURNS, STACK_INSTANCE_TIMEOUT, fail_stack, fill_cloudformation_gaps
from .cloudwatch import alarms_are_evaluated
from .codepipeline import JOB_RESULTS, record_codepipeline_job_results
from .monitoring import (
    EVENTS,
    JOB_DEFINITIONS,
    MONITORING_HOUR_SECONDS,
    MONITORING_RUNS,
    MonitoringClock,
    monitoring_executions_are_listed,
    simulate_violation,
)
from .open_engine import SCHEDULES, emulator_client, run_now
from .patches import replace, restore_moto
from .placeholders import _PLACEHOLDERS, PLACEHOLDER_TYPES
from .sagemaker import (
    MONITORING_SCHEDULES,
    NO_MODEL_RUNS,
    automl_jobs_finish,
    baseline_jobs_write_their_reports,
    endpoints_say_no_model_runs,
    model_card_exports_are_refused,
    models_need_what_they_serve,
    monitoring_schedules_are_described,
    training_jobs_need_their_input,
    transform_jobs_fail_without_their_input,
)
from .sns import NOTIFICATIONS, published_messages_are_recorded
from .stepfunctions import state_machines_run_their_executions

__all__ = [
    "CLOUDFORMATION_TURNS",
    "EMULATOR_ENV",
    "JOB_DEFINITIONS",
    "JOB_RESULTS",
    "MONITORING_HOUR_SECONDS",
    "MONITORING_RUNS",
    "MONITORING_SCHEDULES",
    "NOTIFICATIONS",
    "NO_MODEL_RUNS",
    "PLACEHOLDER_TYPES",
    "SCHEDULES",
    "STACK_INSTANCE_TIMEOUT",
    "_PLACEHOLDERS",
    "Emulator",
    "MonitoringClock",
    "emulator_client",
    "fail_stack",
    "replace",
    "restore_moto",
    "run_now",
    "simulate_violation",
]

EMULATOR_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass
class Emulator:
    """moto's threaded server. `start()` returns its endpoint and routes this process's clients there."""

    port: int = 0
    _server: object | None = field(default=None, init=False)
    _saved_env: dict[str, str | None] = field(default_factory=dict, init=False)

    @property
    def endpoint(self) -> str:
        host, port = self._server.get_host_and_port()  # type: ignore[union-attr]
        return f"http://{host}:{port}"

    def start(self) -> str:
        check_moto()  # before any patch: another moto release may not have what the fills replace
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        fill_cloudformation_gaps()
        record_codepipeline_job_results()
        state_machines_run_their_executions()
        baseline_jobs_write_their_reports()
        monitoring_schedules_are_described()
        endpoints_say_no_model_runs()
        transform_jobs_fail_without_their_input()
        training_jobs_need_their_input()
        models_need_what_they_serve()
        automl_jobs_finish()
        model_card_exports_are_refused()
        monitoring_executions_are_listed()
        alarms_are_evaluated()
        published_messages_are_recorded()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()  # type: ignore[attr-defined]
        # moto keeps its state in this process: a new emulator starts from an empty AWS.
        reset = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=30).close()
        for kept in (MONITORING_SCHEDULES, JOB_DEFINITIONS, MONITORING_RUNS, SCHEDULES, EVENTS, NOTIFICATIONS):
            kept.clear()  # what the emulator keeps beside moto's backends starts empty too
        env = {**EMULATOR_ENV, "AWS_ENDPOINT_URL": self.endpoint}
        for name, value in env.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value
        os.environ.pop("AWS_PROFILE", None)
        reset_clients()
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None
        restore_moto()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        reset_clients()

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
