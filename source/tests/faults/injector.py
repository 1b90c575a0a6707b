# SPDX-License-Identifier: Apache-2.0
"""Faults injected into the orchestrator's own AWS calls: throttling, 5xx, dropped connections, lost answers.

A botocore `before-send` handler, registered first on every client that code under `lambdas/` creates (through
`lambdas.shared.aws.client` or its own session), decides each attempt's fate from a seeded random generator and
the rules given: answer it with AWS's throttling or 5xx error in the service's protocol, drop the connection
before sending, or carry the request out and then drop the connection (the answer is lost, the SDK retries).
Calls made by the tests themselves and by local mode's machinery are left alone.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.client
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError
from botocore.retries import standard

LAMBDAS = str(Path(__file__).resolve().parents[2] / "lambdas")
THROTTLE, SERVER_ERROR, DROP, LOST_ANSWER = "throttle", "5xx", "drop", "lost-answer"
KINDS = (THROTTLE, SERVER_ERROR, DROP, LOST_ANSWER)
# The protocol of each service's error answers (botocore parses them by the service's protocol).
QUERY, JSON, REST_XML = "query", "json", "rest-xml"
PROTOCOLS = {"s3": REST_XML, "cloudformation": QUERY, "dynamodb": JSON, "sagemaker": JSON, "codepipeline": JSON}
THROTTLE_CODES = {"s3": "SlowDown", "cloudformation": "Throttling", "dynamodb": "ThrottlingException"}


@dataclass(frozen=True)
class Rule:
    """Inject `kind` into a call of `service` (and `operation`, when given) with probability `rate`."""

    kind: str
    service: str
    rate: float = 1.0
    operation: str = ""
    times: int | None = None  # at most this many injections (None: no limit)


class _MockRaw:
    def __init__(self, body: bytes) -> None:
        self._body, self._sent = body, False

    def stream(self, **_: Any) -> Iterator[bytes]:
        if not self._sent:
            self._sent = True
            yield self._body


def _error_answer(request: Any, service: str, kind: str) -> AWSResponse:
    throttle = kind == THROTTLE
    code = THROTTLE_CODES.get(service, "ThrottlingException") if throttle else "InternalError"
    status = 503 if (throttle and service == "s3") or not throttle else 400
    message = "Rate exceeded" if throttle else "We encountered an internal error. Please try again."
    protocol = PROTOCOLS[service]
    if protocol == REST_XML:
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>f</RequestId></Error>"
        headers = {"Content-Type": "application/xml"}
    elif protocol == QUERY:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>f</RequestId></ErrorResponse>"
        )
        headers = {"Content-Type": "text/xml"}
    else:
        body = f'{{"__type": "{code}", "message": "{message}"}}'
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}
    return AWSResponse(request.url, status, headers, _MockRaw(body.encode()))  # type: ignore[arg-type]


def _carry_out(request: Any, event_name: str) -> None:
    """Send the request to the emulator (moto in process, or moto's server on the loopback) and drop its answer."""
    from moto.core.models import botocore_stubber

    if botocore_stubber.enabled and botocore_stubber(event_name=event_name, request=request) is not None:
        return
    host = urlsplit(request.url).hostname
    assert host in ("127.0.0.1", "localhost"), f"the fault injector sends nothing beyond the loopback: {host}"
    from botocore.httpsession import URLLib3Session

    URLLib3Session().send(request)


@dataclass
class Injector:
    rules: list[Rule]
    seed: int = 0
    injected: Counter = field(default_factory=Counter)  # (kind, "service:Operation") -> count
    calls: Counter = field(default_factory=Counter)  # "service:Operation" -> attempts seen
    active: bool = True

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._used: Counter = Counter()

    def _fate(self, service: str, operation: str) -> str | None:
        with self._lock:
            self.calls[f"{service}:{operation}"] += 1
            for index, rule in enumerate(self.rules):
                if rule.service != service or (rule.operation and rule.operation != operation):
                    continue
                if rule.times is not None and self._used[index] >= rule.times:
                    continue
                if self._random.random() < rule.rate:
                    self._used[index] += 1
                    self.injected[(rule.kind, f"{service}:{operation}")] += 1
                    return rule.kind
        return None

    def before_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        _, service, operation = event_name.split(".", 2)
        service = service.lower()
        if not self.active or service not in PROTOCOLS:
            return None
        kind = self._fate(service, operation)
        if kind in (THROTTLE, SERVER_ERROR):
            answer = _error_answer(request, service, kind)
            # botocore calls every before-send handler and takes the first answer: the request is readdressed
            # so that moto's own handler (after this one) finds no service to carry it out.
            request.url = "http://fault-injected.invalid/"
            return answer
        if kind == DROP:
            raise ConnectionClosedError(endpoint_url=request.url)
        if kind == LOST_ANSWER:
            _carry_out(request, event_name)
            raise ConnectionClosedError(endpoint_url=request.url)
        return None

    def count(self, kind: str) -> int:
        return sum(n for (k, _), n in self.injected.items() if k == kind)


def _made_by_lambda_code() -> bool:
    import sys

    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith(LAMBDAS):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


@contextmanager
def injected(injector: Injector, fast_backoff: bool = True) -> Iterator[Injector]:
    """Install the injector on every client the Lambda code creates from now on (cached clients are forgotten),
    with the SDK's backoff shortened so that a bounded test can afford AWS's retries."""
    from lambdas.shared.aws import reset_clients

    original = botocore.client.ClientCreator.create_client
    backoff = dict(standard.ExponentialBackoff._DEFAULT_BACKOFF_CONFIG)

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)
        if _made_by_lambda_code():
            made.meta.events.register_first("before-send", injector.before_send)
        return made

    botocore.client.ClientCreator.create_client = create_client  # type: ignore[method-assign]
    if fast_backoff:
        standard.ExponentialBackoff._DEFAULT_BACKOFF_CONFIG = {
            "throttling_base_scale": 0.002,
            "non_throttling_base_scale": 0.001,
        }
    reset_clients()
    try:
        yield injector
    finally:
        injector.active = False
        botocore.client.ClientCreator.create_client = original  # type: ignore[method-assign]
        standard.ExponentialBackoff._DEFAULT_BACKOFF_CONFIG = backoff
        reset_clients()
