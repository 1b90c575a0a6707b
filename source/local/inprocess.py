# SPDX-License-Identifier: Apache-2.0
"""Run our Lambda functions in this process, as local mode's stand-in for the Lambda service.

moto's Lambda runs functions in Docker, which local mode neither needs nor uses. Functions whose handler
is in this project's `lambdas` package are imported and called here instead, with the function's own
environment variables; custom-resource answers are sent to the emulator's own endpoint.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import threading
import traceback
from typing import Any

# A function's environment variables are process-wide while it runs. The lock guards only setting and restoring
# them, not the call: a function may invoke another (through the emulator, on another thread), which then
# sets and restores its own variables on top.
ENV_LOCK = threading.Lock()
PROJECT_PACKAGE = "lambdas."


def call_handler(handler: str, environment: dict[str, str], event: Any) -> Any:
    """Import `package.module.function` and call it with the event, under the function's environment."""
    module_name, _, attribute = handler.rpartition(".")
    with ENV_LOCK:
        saved = {k: os.environ.get(k) for k in environment}
        os.environ.update({k: str(v) for k, v in environment.items()})
    try:
        return getattr(importlib.import_module(module_name), attribute)(event, None)
    finally:
        with ENV_LOCK:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


_EMULATOR = {"endpoint": ""}  # the running emulator's URL (a later emulator in this process replaces it)


def run_project_lambdas_in_process(emulator_endpoint: str) -> None:
    """Patch moto's Lambda so that invoking one of our functions calls its handler in this process."""
    from moto.awslambda.models import LambdaFunction

    _EMULATOR["endpoint"] = emulator_endpoint
    original = LambdaFunction._invoke_lambda
    if getattr(original, "_in_process", False):
        return

    def invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:
        if not str(self.handler).startswith(PROJECT_PACKAGE):
            return original(self, event)
        if isinstance(event, str):
            event = json.loads(event or "{}")
        if isinstance(event, dict) and isinstance(event.get("ResponseURL"), str):
            # moto addresses custom-resource answers to a Docker host; here they go to the emulator itself.
            event["ResponseURL"] = re.sub(r"^https?://[^/]+", _EMULATOR["endpoint"], event["ResponseURL"])
        try:
            result = call_handler(self.handler, dict(self.environment_vars or {}), event)
        except Exception as error:  # reported as the function's error, as Lambda does
            body = {"errorMessage": str(error), "errorType": type(error).__name__}
            return json.dumps(body), True, traceback.format_exc()
        return json.dumps(result, default=str), False, ""

    invoke._in_process = True  # type: ignore[attr-defined]
    LambdaFunction._invoke_lambda = invoke  # type: ignore[method-assign]
