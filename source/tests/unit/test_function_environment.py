# SPDX-License-Identifier: Apache-2.0
"""Local mode's in-process functions each see their own environment variables, even while running at once."""

from __future__ import annotations

import os
import threading

from local.inprocess import call_handler

FIRST_STARTED, SECOND_STARTED, FIRST_DONE = threading.Event(), threading.Event(), threading.Event()
VARIABLE = "WAITER_STATE_MACHINE_ARN"


def first_function(event: dict, context: object) -> str:
    """Starts first and returns while the second still runs."""
    FIRST_STARTED.set()
    SECOND_STARTED.wait(timeout=5)
    return os.environ[VARIABLE]


def second_function(event: dict, context: object) -> str:
    """Reads its variable after the first function (which set the same name) has returned."""
    SECOND_STARTED.set()
    FIRST_DONE.wait(timeout=5)
    return os.environ[VARIABLE]


def test_a_function_keeps_its_variables_while_another_sets_and_restores_the_same_names():
    found: dict[str, object] = {}

    def run(name: str, function: str, value: str) -> None:
        try:
            found[name] = call_handler(f"{__name__}.{function}", {VARIABLE: value}, {})
        except Exception as error:  # the defect: KeyError once the first function restored the variable
            found[name] = repr(error)
        if name == "first":
            FIRST_DONE.set()

    first = threading.Thread(target=run, args=("first", "first_function", "arn:first"))
    first.start()
    assert FIRST_STARTED.wait(timeout=5)
    second = threading.Thread(target=run, args=("second", "second_function", "arn:second"))
    second.start()
    first.join(timeout=5)
    second.join(timeout=5)
    assert found == {"first": "arn:first", "second": "arn:second"}
    assert VARIABLE not in os.environ  # the process itself never had it
    os.environ["MLOPS_TEST_PROCESS_VARIABLE"] = "kept"  # the process's own variables still read and write through
    assert os.getenv("MLOPS_TEST_PROCESS_VARIABLE") == "kept" and "MLOPS_TEST_PROCESS_VARIABLE" in os.environ.copy()
    del os.environ["MLOPS_TEST_PROCESS_VARIABLE"]
