# SPDX-License-Identifier: Apache-2.0
"""What every REST API of the solution shares: its `prod` stage, logged to CloudWatch and throttled."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs

STAGE_NAME = "prod"


def logged_stage(
    access_logs: logs.ILogGroup, rate_limit: int, burst_limit: int, **options: Any
) -> apigateway.StageOptions:
    """The `prod` stage: JSON access logs with the caller, INFO execution logs, X-Ray traces and the given
    throttling."""
    return apigateway.StageOptions(
        stage_name=STAGE_NAME,
        access_log_destination=apigateway.LogGroupLogDestination(access_logs),
        access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
            caller=True,
            http_method=True,
            ip=True,
            protocol=True,
            request_time=True,
            resource_path=True,
            response_length=True,
            status=True,
            user=True,
        ),
        logging_level=apigateway.MethodLoggingLevel.INFO,
        throttling_rate_limit=rate_limit,
        throttling_burst_limit=burst_limit,
        tracing_enabled=True,
        **options,
    )
