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
from collections.abc import Iterator, MutableMapping
from typing import Any

from .emulator import replace

PROJECT_PACKAGE = "lambdas."
# The account of the function running on each thread: its requests to the emulator are made in that account.
_CALLER = threading.local()
ACCOUNT_HEADER = "x-moto-account-id"  # moto's way to name the account of an (unsigned) request


class FunctionEnvironment(MutableMapping[str, str]):
    """`os.environ` as each function sees it: the process's variables under the variables of the function running
    on this thread. Functions run at once on several threads (one may invoke another); each reads its own
    variables, and none is restored under another's feet."""

    def __init__(self, process: MutableMapping[str, str]) -> None:
        self.process = process
        self._local = threading.local()

    @property
    def layer(self) -> dict[str, str | None] | None:
        return getattr(self._local, "layer", None)

    @layer.setter
    def layer(self, value: dict[str, str | None] | None) -> None:
        self._local.layer = value

    def __getitem__(self, key: str) -> str:
        layer = self.layer
        if layer is not None and key in layer:
            value = layer[key]
            if value is None:
                raise KeyError(key)
            return value
        return self.process[key]

    def __setitem__(self, key: str, value: str) -> None:
        layer = self.layer
        if layer is None:
            self.process[key] = value
        else:
            layer[key] = str(value)

    def __delitem__(self, key: str) -> None:
        layer = self.layer
        if layer is None:
            del self.process[key]
        else:
            self[key]
            layer[key] = None

    def _merged(self) -> dict[str, str]:
        merged = dict(self.process)
        for key, value in (self.layer or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged

    def __iter__(self) -> Iterator[str]:
        return iter(self._merged())

    def __len__(self) -> int:
        return len(self._merged())

    def copy(self) -> dict[str, str]:
        return self._merged()


def isolate_function_environments() -> FunctionEnvironment:
    """Give each in-process function its own environment variables (idempotent)."""
    if not isinstance(os.environ, FunctionEnvironment):
        os.environ = FunctionEnvironment(os.environ)  # type: ignore[assignment]  # noqa: B003 - a view, not a clear
    return os.environ  # type: ignore[return-value]


def call_handler(handler: str, environment: dict[str, str], event: Any, account_id: str = "") -> Any:
    """Import `package.module.function` and call it with the event, under the function's environment and,
    when given, in the function's account."""
    module_name, _, attribute = handler.rpartition(".")
    variables = isolate_function_environments()
    outer = variables.layer
    variables.layer = {**(outer or {}), **{k: str(v) for k, v in environment.items()}}
    caller = getattr(_CALLER, "account", "")
    _CALLER.account = account_id
    try:
        return getattr(importlib.import_module(module_name), attribute)(event, None)
    finally:
        _CALLER.account = caller
        variables.layer = outer


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
