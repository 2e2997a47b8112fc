"""Helpers for the `rabbitmq` scaler tests: parsing trigger inputs, building scalers over shared
clients, and publishing / polling on a real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aio_pika

from scalers import base, connections, params, rabbitmq_queues

HTTP_HOST = "http://guest:secretpw@rabbit.local:15672/"
AMQP_HOST = "amqp://guest:secretpw@rabbit.local:5672/"


def inputs(
    metadata: Mapping[str, str],
    auth: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    index: int = 0,
) -> base.TriggerInputs:
    return base.TriggerInputs(
        type="rabbitmq",
        index=index,
        metadata=dict(metadata),
        auth_params=dict(auth or {}),
        resolved_env=dict(env or {}),
        namespace="default",
        scaled_object="so",
    )


def parse(
    metadata: Mapping[str, str], auth: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None
) -> rabbitmq_queues.RabbitMQParams:
    return params.parse(rabbitmq_queues.RabbitMQParams, inputs(metadata, auth, env)).value


def problems(metadata: Mapping[str, str], auth: Mapping[str, str] | None = None) -> list[str]:
    """Every error (not warning) parsing reports, as `field: message`; [] when accepted."""
    try:
        params.parse(rabbitmq_queues.RabbitMQParams, inputs(metadata, auth))
    except base.ConfigError as error:
        return [str(p) for p in error.problems]
    return []


def warnings(metadata: Mapping[str, str], auth: Mapping[str, str] | None = None) -> list[str]:
    parsed = params.parse(rabbitmq_queues.RabbitMQParams, inputs(metadata, auth))
    return [str(p) for p in parsed.warnings]


def build(
    metadata: Mapping[str, str],
    pool: connections.SharedClients,
    auth: Mapping[str, str] | None = None,
    *,
    index: int = 0,
) -> base.Scaler:
    trigger = inputs(metadata, auth, index=index)
    parsed = params.parse(rabbitmq_queues.RabbitMQParams, trigger).value
    return rabbitmq_queues.RABBITMQ.build(
        parsed, trigger, base.BuildContext(clients=pool, clock=time.monotonic)
    )


async def publish(amqp_url: str, queue: str, count: int, *, declare: bool = True) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        if declare:
            await channel.declare_queue(queue, auto_delete=False)
        for _ in range(count):
            await channel.default_exchange.publish(aio_pika.Message(b"m"), routing_key=queue)


async def eventually(
    read: Callable[[], Awaitable[Any]], accept: Callable[[Any], bool], *, within: float = 20.0
) -> Any:
    """Poll `read` until `accept` holds (management statistics refresh about every second)."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        last = await read()
        if accept(last):
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"no acceptable reading within {within} s; last: {last!r}")
        await asyncio.sleep(0.25)
