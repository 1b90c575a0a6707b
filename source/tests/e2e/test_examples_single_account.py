# SPDX-License-Identifier: Apache-2.0
"""Every shipped example, sent unchanged over HTTP to local mode in a single account, ends ACTIVE (a module of its
own, so that it runs beside the multi-account examples)."""

from __future__ import annotations

from tests.e2e.conftest import LocalScene
from tests.e2e.examples_support import TOP_LEVEL, provision_every_example


def test_every_example_runs_to_the_end_in_a_single_account(single_account: LocalScene):
    provision_every_example(single_account, TOP_LEVEL)
