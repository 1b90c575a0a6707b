# SPDX-License-Identifier: Apache-2.0
"""What AWS's refusals mean, decided in one place for the orchestrator and the blueprints' job Lambdas."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from lambdas.blueprints.custom_resource import JobFailed, create_unless_there
from lambdas.shared.aws import is_already_there, is_not_found


def refusal(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


@pytest.mark.parametrize(
    ("code", "message", "missing"),
    [
        ("ResourceNotFound", "Endpoint x not found", True),
        ("ValidationException", "Could not find endpoint x", True),
        ("ValidationException", "Job x does not exist", True),
        ("ValidationException", "1 validation error: InstanceType", False),
        ("AccessDeniedException", "not authorized", False),
    ],
)
def test_a_missing_resource_is_told_apart_from_other_refusals(code: str, message: str, missing: bool):
    assert is_not_found(refusal(code, message)) is missing


@pytest.mark.parametrize(
    ("code", "message", "there"),
    [
        ("ResourceInUse", "Job x already exists", True),
        ("ValidationException", "Training job names must be unique within an AWS account and region", True),
        ("ValidationException", "Could not find model", False),
        ("ThrottlingException", "Rate exceeded", False),
    ],
)
def test_a_name_already_taken_is_told_apart_from_other_refusals(code: str, message: str, there: bool):
    assert is_already_there(refusal(code, message)) is there
    assert is_already_there(RuntimeError("already exists")) is False  # our own faults are never AWS's answer


def test_a_create_retried_by_cloudformation_is_the_job_asked_for():
    calls = []

    def create(**request):
        calls.append(request)
        raise refusal("ResourceInUse", "Job j already exists")

    create_unless_there(create, {"JobName": "j"}, "training job j")
    assert calls == [{"JobName": "j"}]


def test_any_other_refusal_of_a_create_fails_the_job_with_its_reason():
    def create(**_):
        raise refusal("ValidationException", "Could not find model m")

    with pytest.raises(JobFailed, match=r"cannot create training job j: .*Could not find model m"):
        create_unless_there(create, {}, "training job j")
