# SPDX-License-Identifier: Apache-2.0
"""Local mode's EventBridge delivery: a failed delivery is tried again with backoff, then dead-lettered."""

from __future__ import annotations

from local.event_delivery import EventDelivery


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_failed_delivery_is_tried_again_until_it_is_handled():
    clock, calls = Clock(), []

    def handler(event: dict) -> None:
        calls.append(event["n"])
        if len(calls) < 3:
            raise RuntimeError("the index could not be written")

    delivery = EventDelivery(clock=clock)
    delivery.deliver(handler, {"n": 1}, "status change")
    delivery.retry_due()  # the backoff has not passed
    assert calls == [1] and delivery.pending == 1
    for _ in range(2):
        clock.now += 60
        delivery.retry_due()
    assert calls == [1, 1, 1] and delivery.pending == 0 and delivery.dead_letters == []


def test_a_delivery_that_fails_every_attempt_is_dead_lettered_not_dropped():
    clock = Clock()

    def failing(event: dict) -> None:
        raise RuntimeError("down")

    delivery = EventDelivery(retry_attempts=2, clock=clock)
    delivery.deliver(failing, {"n": 1}, "status change of x")
    for _ in range(5):
        clock.now += 60
        delivery.retry_due()
    assert delivery.pending == 0
    assert [d["what"] for d in delivery.dead_letters] == ["status change of x"]
    assert "down" in delivery.dead_letters[0]["error"]
