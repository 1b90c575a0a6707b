# SPDX-License-Identifier: Apache-2.0
"""Step Functions: executions that run, on a thread, as the service runs them (moto leaves them RUNNING)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from lambdas.shared.logging import get_logger

from .patches import replace

logger = get_logger(__name__)


# The emulator's Step Functions passes a Wait state in at most this many seconds (the waits in our state
# machines pace polls of jobs that the emulator finishes at once).
WAIT_SECONDS_CAP = 0.5
# An execution that runs this many states without ending fails, as one past its timeout would.
MAX_TRANSITIONS = 2000


def state_machines_run_their_executions() -> None:
    """moto records StartExecution and leaves the execution RUNNING for ever (its own interpreter, behind a
    global setting, runs tasks through Lambda clients outside the machine's account and outside this process).
    The emulator runs each execution on a thread, as Step Functions would: Wait (shortened), Task on a Lambda
    function of the machine's account (with the state's Retry), Choice, Pass, Succeed and Fail (idempotent)."""
    from moto.stepfunctions.models import StateMachine

    original = StateMachine.start_execution
    if getattr(original, "_runs", False):
        return

    def start_execution(self: Any, region_name: str, account_id: str, execution_name: str, execution_input: str) -> Any:
        execution: Any = original(self, region_name, account_id, execution_name, execution_input)
        if execution.status == "RUNNING" and getattr(execution, "_thread", None) is None:
            # An idempotent repeat of StartExecution returns the running execution: it is not started again.
            execution._thread = threading.Thread(
                target=_run_execution, args=(self.definition, execution), name=f"sfn-{execution_name}", daemon=True
            )
            execution._thread.start()
        return execution

    start_execution._runs = True  # type: ignore[attr-defined]
    replace(StateMachine, "start_execution", start_execution)


def resume_running_executions() -> list[str]:
    """Run again, from their start, the executions a stopped local mode left RUNNING (a restart brings back the
    execution, not the thread that ran it); returns their ARNs. The emulator's state machines poll jobs until they
    are done, so a run from the start finds where the first one was."""
    from moto.stepfunctions.models import stepfunctions_backends

    resumed: list[str] = []
    for regions in list(stepfunctions_backends.values()):
        for backend in list(regions.values()):
            for machine in list(backend.state_machines):
                for execution in list(machine.executions):
                    if execution.status == "RUNNING" and getattr(execution, "_thread", None) is None:
                        execution._thread = threading.Thread(
                            target=_run_execution,
                            args=(machine.definition, execution),
                            name=f"sfn-{execution.name}",
                            daemon=True,
                        )
                        execution._thread.start()
                        resumed.append(execution.execution_arn)
    return resumed


class _StateFailed(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


def _run_execution(definition: str, execution: Any) -> None:
    from moto.core.utils import utcnow

    try:
        output = _run_states(json.loads(definition), json.loads(execution.execution_input or "{}"), execution)
    except _StateFailed as failure:
        execution.error, execution.cause, status, output = failure.error, failure.cause, "FAILED", None
    except Exception as error:  # a fault of the emulator itself: logged, and the execution fails with it as it is
        logger.exception("the emulator failed running execution %s", getattr(execution, "execution_arn", "?"))
        execution.error, execution.cause, status, output = type(error).__name__, str(error), "FAILED", None
    else:
        status = "SUCCEEDED"
    if execution.status == "RUNNING":  # not stopped meanwhile
        execution.output = None if output is None else json.dumps(output)
        execution.status, execution.stop_date = status, utcnow()


def _run_states(machine: dict[str, Any], data: Any, execution: Any) -> Any:
    name = machine["StartAt"]
    for _ in range(MAX_TRANSITIONS):
        if execution.status != "RUNNING":
            return data
        if name not in machine.get("States", {}):
            raise _StateFailed("States.Runtime", f"the definition has no state named '{name}'")
        state = machine["States"][name]
        kind = state["Type"]
        if kind == "Wait":
            time.sleep(min(float(state.get("Seconds", 0)), WAIT_SECONDS_CAP))
        elif kind == "Task":
            data = _run_task(state, data, execution.account_id, execution.region_name)
        elif kind == "Pass":
            data = state.get("Result", data)
        elif kind == "Choice":
            name = next((c["Next"] for c in state.get("Choices", []) if _matches(c, data)), state.get("Default", ""))
            if not name:
                raise _StateFailed("States.NoChoiceMatched", "no choice matched and there is no default")
            continue
        elif kind == "Succeed":
            return data
        elif kind == "Fail":
            raise _StateFailed(state.get("Error", "States.Fail"), state.get("Cause", ""))
        else:
            raise _StateFailed("States.Runtime", f"the emulator does not run {kind} states")
        if state.get("End"):
            return data
        name = state.get("Next", "")
    raise _StateFailed("States.Timeout", f"no end after {MAX_TRANSITIONS} states")


def _matches(choice: dict[str, Any], data: Any) -> bool:
    value = _path(data, choice.get("Variable", "$"))
    for operator, compare in (
        ("BooleanEquals", lambda a, b: a is b),
        ("StringEquals", lambda a, b: a == b),
        ("NumericEquals", lambda a, b: a == b),
    ):
        if operator in choice:
            return compare(value, choice[operator])
    if "And" in choice:
        return all(_matches(c, data) for c in choice["And"])
    if "Or" in choice:
        return any(_matches(c, data) for c in choice["Or"])
    if "Not" in choice:
        return not _matches(choice["Not"], data)
    raise _StateFailed("States.Runtime", f"the emulator does not evaluate choice {sorted(choice)}")


def _path(data: Any, path: str) -> Any:
    for part in path.removeprefix("$").split(".")[1:] if path != "$" else []:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _run_task(state: dict[str, Any], data: Any, account_id: str, region: str) -> Any:
    """A Lambda task: the state's Resource is the function's ARN (the result is the function's answer)."""
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.utils import get_backend

    resource = state["Resource"]
    if ":lambda:" not in resource or ":function:" not in resource:
        raise _StateFailed("States.Runtime", f"the emulator runs Lambda tasks only, not {resource}")
    attempts: dict[int, int] = {}
    while True:
        try:
            function = get_backend(account_id, region).get_function(resource)
        except UnknownFunctionException as error:
            raise _StateFailed("Lambda.ResourceNotFoundException", f"no function {resource}") from error
        payload, errored, _ = function._invoke_lambda(json.dumps(data))
        if not errored:
            return json.loads(payload) if payload else None
        body = json.loads(payload or "{}")
        error, cause = body.get("errorType", "Lambda.Unknown"), body.get("errorMessage", "")
        for index, rule in enumerate(state.get("Retry", [])):
            if error in rule["ErrorEquals"] or "States.ALL" in rule["ErrorEquals"]:
                attempts[index] = attempts.get(index, 0) + 1
                if attempts[index] <= rule.get("MaxAttempts", 3):
                    time.sleep(min(float(rule.get("IntervalSeconds", 1)), WAIT_SECONDS_CAP))
                    break
        else:
            raise _StateFailed(error, cause)
