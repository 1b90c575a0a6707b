# SPDX-License-Identifier: Apache-2.0
"""The recorder of our Lambdas' AWS calls (tests/aws_calls.py) knows every handler the templates run."""

from __future__ import annotations

import pytest

from tests.aws_calls import HANDLERS, functions_by_handler

pytestmark = pytest.mark.synth


def test_the_call_recorder_knows_every_handler_of_our_code(synthesized):
    ours = {handler for handler in functions_by_handler(synthesized.templates) if handler.startswith("lambdas.")}
    assert ours == HANDLERS.handlers
