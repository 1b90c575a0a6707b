# SPDX-License-Identifier: Apache-2.0
"""The orchestrator stack's log groups are encrypted with the stack's own key, which CloudWatch Logs may use for
log groups of this account and region only (the key policy statement the CloudWatch Logs documentation gives)."""

from __future__ import annotations

import pytest

from .policy_eval import Request, applies, concrete

pytestmark = pytest.mark.synth

STACKS = ["mlops-orchestrator-single-account", "mlops-orchestrator-multi-account"]
ACCOUNT, REGION = "123456789012", "us-east-1"


def _resources(synthesized, stack):
    return synthesized.templates[stack]["Resources"]


def _logs_key(resources):
    keys = [k for k, r in resources.items() if r["Type"] == "AWS::KMS::Key" and k.startswith("LogsKey")]
    assert len(keys) == 1, keys
    return keys[0]


@pytest.mark.parametrize("stack", STACKS)
def test_every_log_group_of_the_orchestrator_stack_uses_its_logs_key(synthesized, stack):
    resources = _resources(synthesized, stack)
    key = _logs_key(resources)
    groups = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert groups, "the stack has no log group"
    assert {k: p.get("KmsKeyId") for k, p in groups.items()} == {k: {"Fn::GetAtt": [key, "Arn"]} for k in groups}


@pytest.mark.parametrize("stack", STACKS)
def test_cloudwatch_logs_uses_the_key_for_log_groups_of_this_account_only(synthesized, stack):
    template = synthesized.templates[stack]
    key = _logs_key(template["Resources"])
    resolved = concrete(template, {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"})
    statements = resolved["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
    logs = f"logs.{REGION}.amazonaws.com"
    # The evaluator judges identities; the service's own statement is read by its principal, then evaluated.
    (service,) = [s for s in statements if s.get("Principal") == {"Service": logs}]
    assert service["Effect"] == "Allow"

    def encrypts(log_group_arn: str) -> bool:
        context = {"kms:EncryptionContext:aws:logs:arn": log_group_arn}
        return applies(service, Request(logs, "kms:GenerateDataKey", "*", context))

    assert encrypts(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/mlops-orchestrator")
    assert not encrypts(f"arn:aws:logs:{REGION}:999988887777:log-group:/aws/lambda/theirs")
    assert not encrypts(f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/elsewhere")
