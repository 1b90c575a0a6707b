# SPDX-License-Identifier: Apache-2.0
"""The inference API's Lambda: `POST /inference` with {"payload": ..., "content_type": ...}.

A real-time endpoint answers 200 with the model's output as it came. An asynchronous endpoint (env
ASYNC_INPUT_LOCATION set) gets the payload staged in S3 and answers 202 with where the result will be.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from lambdas.shared.aws import client
from lambdas.shared.logging import get_logger

logger = get_logger(__name__)

DEFAULT_CONTENT_TYPE = "text/csv"


class BadInferenceRequest(ValueError):
    """The request body is not {"payload": ..., "content_type": ...}."""


def parse_body(event: dict[str, Any]) -> tuple[bytes, str]:
    body = event.get("body")
    if body is None:
        raise BadInferenceRequest('the request needs a JSON body {"payload": ..., "content_type": "..."}')
    if event.get("isBase64Encoded"):
        import base64

        body = base64.b64decode(body).decode()
    try:
        request = json.loads(body) if isinstance(body, str) else body
    except ValueError as error:
        raise BadInferenceRequest(f"the body is not JSON: {error}") from None
    if not isinstance(request, dict) or "payload" not in request:
        raise BadInferenceRequest('the body must be a JSON object with a "payload"')
    payload = request["payload"]
    content_type = request.get("content_type") or DEFAULT_CONTENT_TYPE
    if not isinstance(content_type, str):
        raise BadInferenceRequest('"content_type" must be a string such as text/csv')
    # A JSON payload that is not a string is sent to the model as JSON text.
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return text.encode(), content_type


def invoke(endpoint_name: str, payload: bytes, content_type: str) -> dict[str, Any]:
    response = client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint_name, ContentType=content_type, Body=payload
    )
    return {
        "statusCode": 200,
        "headers": {"Content-Type": response.get("ContentType", "text/plain")},
        "body": response["Body"].read().decode(),
    }


def invoke_async(endpoint_name: str, input_location: str, payload: bytes, content_type: str) -> dict[str, Any]:
    bucket, _, prefix = input_location.partition("/")
    key = f"{prefix}/{uuid.uuid4()}" if prefix else str(uuid.uuid4())
    client("s3").put_object(Bucket=bucket, Key=key, Body=payload, ContentType=content_type)
    response = client("sagemaker-runtime").invoke_endpoint_async(
        EndpointName=endpoint_name, ContentType=content_type, InputLocation=f"s3://{bucket}/{key}"
    )
    answer = {
        "inference_id": response.get("InferenceId", ""),
        "output_location": response.get("OutputLocation", ""),
        "input_location": f"s3://{bucket}/{key}",
    }
    if response.get("FailureLocation"):
        answer["failure_location"] = response["FailureLocation"]
    return {"statusCode": 202, "headers": {"Content-Type": "application/json"}, "body": json.dumps(answer)}


def _error(status: int, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": message}),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    endpoint_name = os.environ["SAGEMAKER_ENDPOINT_NAME"]
    try:
        payload, content_type = parse_body(event)
    except BadInferenceRequest as error:
        return _error(400, f"Bad request: {error}")
    from botocore.exceptions import ClientError

    try:
        input_location = os.environ.get("ASYNC_INPUT_LOCATION", "")
        if input_location:
            return invoke_async(endpoint_name, input_location, payload, content_type)
        return invoke(endpoint_name, payload, content_type)
    except ClientError as error:
        # The model's own error (ModelError) or SageMaker's validation message is what the caller needs.
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", str(error))
        logger.warning("endpoint %s answered %s: %s", endpoint_name, code, message)
        return _error(status if 400 <= status < 600 else 502, f"{code}: {message}")
