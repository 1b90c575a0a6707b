# SPDX-License-Identifier: Apache-2.0
"""The orchestrator's SNS topic read back in tests: an SQS queue subscribed to it keeps every notice (moto)."""

from __future__ import annotations

import json

from lambdas.shared.aws import client


def subscribed_queue(topic_arn: str, name: str = "notices") -> str:
    """A queue subscribed to the topic; answers its URL."""
    sqs = client("sqs")
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue


def notices(queue: str) -> list[tuple[str, str]]:
    """(subject, message) of every notice the queue holds, oldest first; each is read once."""
    found: list[tuple[str, str]] = []
    while True:
        messages = client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            body = json.loads(message["Body"])
            found.append((body["Subject"], body["Message"]))
            client("sqs").delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
