# SPDX-License-Identifier: Apache-2.0
"""The orchestrator stacks: single-account and multi-account, one CDK class."""

from .stack import OrchestratorStack

__all__ = ["OrchestratorStack"]
