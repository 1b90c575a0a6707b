# SPDX-License-Identifier: Apache-2.0
"""Run our Lambda functions in this process, as local mode's stand-in for the Lambda service.

moto's Lambda runs functions in Docker, which local mode neither needs nor uses. Functions whose handler
is in this project's `lambdas` package are imported and called here instead, with the function's own
environment variables and in the function's own account (Lambda hands a function its execution role's
credentials; here the function's requests to the emulator name its account); custom-resource answers are
sent to the emulator's own endpoint.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import threading
import traceback
from typing import Any

from .emulator import replace

# A function's environment variables are process-wide while it runs. The lock guards only setting and restoring
# them, not the call: a function may invoke another (through the emulator, on another thread), which then
# sets and restores its own variables on top.
ENV_LOCK = threading.Lock()
PROJECT_PACKAGE = "lambdas."
# The account of the function running on each thread: its requests to the emulator are made in that account.
_CALLER = threading.local()
ACCOUNT_HEADER = "x-moto-account-id"  # moto's way to name the account of an (unsigned) request


def call_handler(handler: str, environment: dict[str, str], event: Any, account_id: str = "") -> Any:
    """Import `package.module.function` and call it with the event, under the function's environment and,
    when given, in the function's account."""
    module_name, _, attribute = handler.rpartition(".")
    with ENV_LOCK:
        saved = {k: os.environ.get(k) for k in environment}
        os.environ.update({k: str(v) for k, v in environment.items()})
    caller = getattr(_CALLER, "account", "")
    _CALLER.account = account_id
    try:
        return getattr(importlib.import_module(module_name), attribute)(event, None)
    finally:
        _CALLER.account = caller
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
    requests_name_the_callers_account()
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
            result = call_handler(self.handler, dict(self.environment_vars or {}), event, self.account_id)
        except Exception as error:  # reported as the function's error, as Lambda does
            body = {"errorMessage": str(error), "errorType": type(error).__name__}
            return json.dumps(body), True, traceback.format_exc()
        return json.dumps(result, default=str), False, ""

    invoke._in_process = True  # type: ignore[attr-defined]
    replace(LambdaFunction, "_invoke_lambda", invoke)


def requests_name_the_callers_account() -> None:
    """A request to the emulator made by one of our functions carries the function's account (idempotent)."""
    from botocore.httpsession import URLLib3Session

    original = URLLib3Session.send
    if getattr(original, "_names_account", False):
        return

    def send(self: Any, request: Any) -> Any:
        account = getattr(_CALLER, "account", "")
        endpoint = _EMULATOR["endpoint"]
        if account and endpoint and str(request.url).startswith(endpoint):
            request.headers[ACCOUNT_HEADER] = account
        return original(self, request)

    send._names_account = True  # type: ignore[attr-defined]
    replace(URLLib3Session, "send", send)
