"""The `rabbitmq` scaler at run time with its source injected: every mode's value and activity (including
the rate edge cases), the management JSON, aggregation over regex matches, the regex paging error, and
errors that never show a password."""

from __future__ import annotations

import math
from typing import Any

import pytest
import rabbitmq_helpers as h

from scalers import base, rabbitmq_queues
from scalers.rabbitmq_queues import Mode, QueueStats

Stats = QueueStats


# --- value and activity per mode -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "stats", "activation", "value", "active"),
    [
        pytest.param(Mode.QUEUE_LENGTH, Stats(0, 0), 0, 0, False, id="length-empty"),
        pytest.param(Mode.QUEUE_LENGTH, Stats(5, 5), 0, 5, True, id="length-5"),
        pytest.param(Mode.QUEUE_LENGTH, Stats(5, 5), 5, 5, False, id="length-equal-activation-inactive"),
        pytest.param(Mode.QUEUE_LENGTH, Stats(6, 6), 5, 6, True, id="length-above-activation"),
        pytest.param(Mode.MESSAGE_RATE, Stats(0, 0, 0, 0), 0, 0, False, id="rate-idle"),
        pytest.param(Mode.MESSAGE_RATE, Stats(0, 0, 2.5, 0), 0, 2.5, True, id="rate-publishing"),
        pytest.param(Mode.MESSAGE_RATE, Stats(3, 3, 0, 0), 0, 0, True, id="rate-zero-but-messages-waiting"),
        pytest.param(Mode.MESSAGE_RATE, Stats(1, 1, 1, 0), 1, 1, False, id="rate-and-messages-at-activation"),
        pytest.param(Mode.DELIVER_GET_RATE, Stats(0, 0, 0, 4), 0, 4, True, id="deliver-rate"),
        pytest.param(
            Mode.DELIVER_GET_RATE, Stats(10, 10, 3, 0), 0, 0, False, id="deliver-rate-ignores-backlog"
        ),
        pytest.param(Mode.PUBLISHED_TO_DELIVERED_RATIO, Stats(0, 0, 0, 0), 0, 0, False, id="ratio-idle"),
        pytest.param(
            Mode.PUBLISHED_TO_DELIVERED_RATIO,
            Stats(0, 0, 5, 0),
            0,
            0,
            True,
            id="ratio-publish-no-deliver-is-activation-and-active",
        ),
        pytest.param(
            Mode.PUBLISHED_TO_DELIVERED_RATIO,
            Stats(0, 0, 5, 0),
            2,
            2,
            True,
            id="ratio-no-deliver-activation-2",
        ),
        pytest.param(Mode.PUBLISHED_TO_DELIVERED_RATIO, Stats(0, 0, 6, 3), 0, 2, True, id="ratio-2"),
        pytest.param(
            Mode.PUBLISHED_TO_DELIVERED_RATIO, Stats(0, 0, 6, 3), 2, 2, False, id="ratio-at-activation"
        ),
        pytest.param(
            Mode.PUBLISHED_TO_DELIVERED_RATIO, Stats(0, 0, 0, 3), 0, 0, False, id="ratio-deliver-only"
        ),
        pytest.param(
            Mode.EXPECTED_QUEUE_CONSUMPTION_TIME, Stats(0, 0, 0, 0), 0, 0, False, id="eta-empty-queue"
        ),
        pytest.param(
            Mode.EXPECTED_QUEUE_CONSUMPTION_TIME,
            Stats(0, 0, 7, 0),
            4,
            0,
            False,
            id="eta-empty-queue-no-deliver-is-zero",
        ),
        pytest.param(
            Mode.EXPECTED_QUEUE_CONSUMPTION_TIME,
            Stats(10, 10, 0, 0),
            0,
            0,
            True,
            id="eta-backlog-no-deliver-active",
        ),
        pytest.param(
            Mode.EXPECTED_QUEUE_CONSUMPTION_TIME,
            Stats(10, 10, 0, 0),
            3,
            3,
            True,
            id="eta-no-deliver-is-activation",
        ),
        pytest.param(Mode.EXPECTED_QUEUE_CONSUMPTION_TIME, Stats(8, 8, 2, 4), 0, 1.5, True, id="eta-formula"),
        pytest.param(
            Mode.EXPECTED_QUEUE_CONSUMPTION_TIME,
            Stats(1, 1, 0, 10),
            0,
            0,
            False,
            id="eta-negative-reported-as-0-inactive",
        ),
    ],
)
def test_mode_value_and_activity(
    mode: Mode, stats: QueueStats, activation: float, value: float, active: bool
) -> None:
    reading = rabbitmq_queues.evaluate(mode, stats, activation, exclude_unacknowledged=False)
    assert reading == base.Reading(value=value, active=active)


@pytest.mark.parametrize(
    ("exclude", "value"),
    [pytest.param(False, 10, id="ready-and-unacked"), pytest.param(True, 3, id="ready-only")],
)
def test_exclude_unacknowledged_counts_ready_only(exclude: bool, value: float) -> None:
    reading = rabbitmq_queues.evaluate(Mode.QUEUE_LENGTH, Stats(10, 3), 0, exclude_unacknowledged=exclude)
    assert reading.value == value


# --- the management JSON ---------------------------------------------------------------------------------


def queue(
    messages: int, ready: int, publish: float | None = None, deliver: float | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {"name": "q", "messages": messages, "messages_ready": ready}
    stats: dict[str, Any] = {}
    if publish is not None:
        stats["publish_details"] = {"rate": publish}
    if deliver is not None:
        stats["deliver_get_details"] = {"rate": deliver}
    if stats:
        item["message_stats"] = stats
    return item


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(queue(10, 7, 2.0, 1.0), Stats(10, 7, 2.0, 1.0), id="full"),
        pytest.param({"name": "q"}, Stats(), id="fresh-queue-without-stats"),
        pytest.param(
            {"messages": None, "message_stats": {"publish_details": {}}}, Stats(), id="nulls-are-zero"
        ),
    ],
)
def test_queue_json(body: dict[str, Any], expected: QueueStats) -> None:
    assert rabbitmq_queues.queue_stats(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="not-an-object"),
        pytest.param({"messages": "ten"}, id="count-not-a-number"),
        pytest.param({"messages": 1.5}, id="count-not-an-integer"),
        pytest.param({"message_stats": {"publish_details": {"rate": "fast"}}}, id="rate-not-a-number"),
    ],
)
def test_queue_json_unreadable(body: Any) -> None:
    with pytest.raises(rabbitmq_queues.AnswerError):
        rabbitmq_queues.queue_stats(body)


LISTING = [queue(1, 1, 1.0, 0.5), queue(2, 0, 3.0, 0.0), queue(2, 2, 0.5, 2.0)]


@pytest.mark.parametrize(
    ("operation", "items", "expected"),
    [
        pytest.param("sum", LISTING, Stats(5, 3, 4.5, 2.5), id="sum"),
        pytest.param("avg", LISTING, Stats(1, 1, 1.5, 2.5 / 3), id="avg-integer-division-for-counts"),
        pytest.param("max", LISTING, Stats(2, 2, 3.0, 2.0), id="max-per-field"),
        pytest.param("sum", [], Stats(), id="no-match-all-zero"),
        pytest.param("median", [], Stats(), id="bad-operation-without-matches-is-not-checked"),
    ],
)
def test_regex_aggregation(operation: str, items: list[dict[str, Any]], expected: QueueStats) -> None:
    got = rabbitmq_queues.listing_stats({"items": items, "page_count": 1}, operation)
    assert got.messages == expected.messages and got.messages_ready == expected.messages_ready
    assert math.isclose(got.publish_rate, expected.publish_rate)
    assert math.isclose(got.deliver_get_rate, expected.deliver_get_rate)


def test_regex_more_than_one_page_is_an_error() -> None:
    with pytest.raises(
        rabbitmq_queues.AnswerError, match="regex matches more queues than can be recovered at once"
    ):
        rabbitmq_queues.listing_stats({"items": LISTING, "page_count": 2}, "sum")


def test_regex_bad_operation_with_matches_is_an_error() -> None:
    with pytest.raises(
        rabbitmq_queues.AnswerError, match="operation mode median must be one of sum, avg, max"
    ):
        rabbitmq_queues.listing_stats({"items": LISTING, "page_count": 1}, "median")


# --- the scaler with an injected source ------------------------------------------------------------------


class FakeManagement:
    """Answers `get_json` with canned JSON (or raises), recording the URLs asked for."""

    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.answer = answer
        self.error = error
        self.urls: list[str] = []

    async def get_json(self, url: str) -> Any:
        self.urls.append(url)
        if self.error is not None:
            raise self.error
        return self.answer


def http_scaler(
    metadata: dict[str, str], fake: FakeManagement, auth: dict[str, str] | None = None
) -> rabbitmq_queues.RabbitMQScaler:
    meta = {"queueName": "orders", "host": h.HTTP_HOST, **metadata}
    parsed = h.parse(meta, auth)
    source = rabbitmq_queues.ManagementSource(
        request=rabbitmq_queues.management_request(parsed),
        use_regex=parsed.use_regex,
        operation=parsed.operation,
        get_json=fake.get_json,
    )
    return rabbitmq_queues.RabbitMQScaler(parsed, h.inputs(meta, auth), source)


@pytest.mark.parametrize(
    ("metadata", "answer", "expected"),
    [
        pytest.param({}, queue(30, 12), base.Reading(30, True), id="default-counts-unacked"),
        pytest.param(
            {"excludeUnacknowledged": "true"}, queue(30, 12), base.Reading(12, True), id="exclude-unacked"
        ),
        pytest.param(
            {"mode": "QueueLength", "value": "5", "activationValue": "30"},
            queue(30, 12),
            base.Reading(30, False),
            id="activation-strict",
        ),
        pytest.param(
            {"mode": "MessageRate", "value": "5"},
            queue(0, 0, 4.2, 0),
            base.Reading(4.2, True),
            id="message-rate",
        ),
        pytest.param(
            {"mode": "PublishedToDeliveredRatio", "value": "1"},
            queue(0, 0, 9, 3),
            base.Reading(3, True),
            id="ratio",
        ),
        pytest.param(
            {"useRegex": "true", "operation": "max", "queueName": "^ord.*"},
            {"items": LISTING, "page_count": 1},
            base.Reading(2, True),
            id="regex-max",
        ),
    ],
)
async def test_http_reads(metadata: dict[str, str], answer: Any, expected: base.Reading) -> None:
    fake = FakeManagement(answer)
    scaler = http_scaler(metadata, fake)
    assert await scaler.read() == expected
    assert fake.urls and "secretpw" not in fake.urls[0]


async def test_regex_paging_error_is_a_source_error() -> None:
    scaler = http_scaler({"useRegex": "true"}, FakeManagement({"items": LISTING, "page_count": 3}))
    with pytest.raises(base.SourceError) as caught:
        await scaler.read()
    assert (
        str(caught.value)
        == "error inspecting RabbitMQ: regex matches more queues than can be recovered at once"
    )


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(
            ConnectionError("cannot reach http://guest:secretpw@rabbit.local:15672/api/queues"),
            id="url-in-message",
        ),
        pytest.param(RuntimeError("login guest/secretpw refused"), id="bare-password"),
        pytest.param(RuntimeError("bad url http://guest:secret%70w@x/"), id="percent-encoded-password"),
    ],
)
async def test_errors_are_prefixed_and_never_show_the_password(error: Exception) -> None:
    scaler = http_scaler({}, FakeManagement(error=error))
    with pytest.raises(base.SourceError) as caught:
        await scaler.read()
    message = str(caught.value)
    assert message.startswith("error inspecting RabbitMQ: ")
    assert "secretpw" not in message and "secret%70w" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_userinfo_masked_as_keda_does() -> None:
    error = ConnectionError("cannot reach http://guest:secretpw@rabbit.local:15672/api/queues")
    with pytest.raises(base.SourceError) as caught:
        await http_scaler({}, FakeManagement(error=error)).read()
    assert str(caught.value) == (
        "error inspecting RabbitMQ: ConnectionError: cannot reach http://user:password@rabbit.local:15672/api/queues"
    )


async def test_password_from_auth_params_is_masked() -> None:
    error = RuntimeError("server said: wrong password 'hunter22'")
    scaler = http_scaler({}, FakeManagement(error=error), {"username": "app", "password": "hunter22"})
    with pytest.raises(base.SourceError) as caught:
        await scaler.read()
    assert "hunter22" not in str(caught.value)


async def test_amqp_source_reports_ready_count_with_zero_rates() -> None:
    asked: list[str] = []

    async def count(queue_name: str) -> int:
        asked.append(queue_name)
        return 42

    meta = {
        "queueName": "jobs",
        "host": h.AMQP_HOST,
        "mode": "QueueLength",
        "value": "10",
        "activationValue": "41",
    }
    parsed = h.parse(meta)
    scaler = rabbitmq_queues.RabbitMQScaler(parsed, h.inputs(meta), rabbitmq_queues.AmqpSource("jobs", count))
    assert await scaler.read() == base.Reading(42, True)
    assert asked == ["jobs"]
    assert scaler.metric.name == "s0-rabbitmq-jobs" and scaler.metric.target == 10
