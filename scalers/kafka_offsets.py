"""Kafka I/O for the `kafka` trigger: topic partitions, committed group offsets and latest offsets.

One `aiokafka.AIOKafkaClient` per bootstrap servers and credentials, shared through
`scalers.connections.SharedClients`. It speaks the same requests KEDA's sarama client sends:
Metadata without auto-creating topics (so an unknown topic is an error, not a new topic),
FindCoordinator + OffsetFetch for the group, and ListOffsets(latest) sent to each partition's leader,
one request per leader, in parallel. (aiokafka 0.14's admin client has no list_offsets and its
describe_topics would auto-create a missing topic.)
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

import aiokafka
from aiokafka import errors as kafka_errors
from aiokafka.protocol.commit import OffsetFetchRequest
from aiokafka.protocol.coordination import FindCoordinatorRequest
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.protocol.offset import OffsetRequest

from scalers import connections, tls_contexts

TopicPartition = tuple[str, int]
LATEST = -1
# KEDA's Kafka client waits up to sarama's 30 s; a poll should not hang that long, nor give up in 3 s.
MIN_TIMEOUT_SECONDS = 5.0

_SASL_MECHANISMS = {"plaintext": "PLAIN", "scram_sha256": "SCRAM-SHA-256", "scram_sha512": "SCRAM-SHA-512"}


class KafkaProblem(Exception):
    """A read failure whose message was written here (shown as it is)."""


def describe(error: BaseException) -> str:
    text = str(error).strip()
    if isinstance(error, KafkaProblem):
        return text
    if isinstance(error, TimeoutError) and not text:
        return "timed out"
    name = type(error).__name__
    if not text or text.startswith(name):
        return text or name
    return f"{name}: {text}"


def _error_name(code: int) -> str:
    return str(kafka_errors.for_code(code).__name__)


@dataclasses.dataclass(frozen=True)
class Settings:
    """How to reach the brokers. `sasl` is a KEDA sasl value; only none, plaintext and scram work."""

    bootstrap_servers: tuple[str, ...]
    sasl: str = "none"
    username: str | None = None
    password: str | None = None
    tls: tls_contexts.TLSMaterial | None = None
    timeout: float = MIN_TIMEOUT_SECONDS

    def key(self) -> tuple[Any, ...]:
        tls = None
        if self.tls is not None:
            tls = (
                connections.digest(self.tls.ca),
                connections.digest(self.tls.cert),
                connections.digest(self.tls.key),
                connections.digest(self.tls.key_password),
                self.tls.unsafe_ssl,
            )
        return (
            "kafka",
            self.bootstrap_servers,
            self.sasl,
            self.username,
            connections.digest(self.password),
            tls,
        )

    def client_options(self) -> dict[str, Any]:
        """aiokafka client options for these settings (builds the TLS context)."""
        options: dict[str, Any] = {
            "bootstrap_servers": list(self.bootstrap_servers),
            "client_id": "ebb",
            "request_timeout_ms": int(self.timeout * 1000),
        }
        sasl = self.sasl != "none"
        if sasl:
            mechanism = _SASL_MECHANISMS.get(self.sasl)
            if mechanism is None:
                raise KafkaProblem(f"sasl={self.sasl} is not supported by Ebb yet")
            options.update(
                sasl_mechanism=mechanism, sasl_plain_username=self.username, sasl_plain_password=self.password
            )
        if self.tls is not None:
            try:
                options["ssl_context"] = tls_contexts.client_context(self.tls)
            except tls_contexts.TLSMaterialError as error:
                raise KafkaProblem(str(error)) from None
        options["security_protocol"] = {
            (False, False): "PLAINTEXT",
            (False, True): "SASL_PLAINTEXT",
            (True, False): "SSL",
            (True, True): "SASL_SSL",
        }[(self.tls is not None, sasl)]
        return options


async def _open(settings: Settings) -> Any:
    client = aiokafka.AIOKafkaClient(**settings.client_options())
    try:
        await client.bootstrap()
    except BaseException:
        await client.close()
        raise
    return client


async def _close(client: Any) -> None:
    await client.close()


class KafkaOffsets:
    """The real `kafka_lag.OffsetSource`, over one shared client (acquired on first use)."""

    def __init__(self, pool: connections.SharedClients, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings
        self._lease: connections.Lease[Any] | None = None
        self._lock = asyncio.Lock()
        self._leaders: dict[TopicPartition, int] = {}

    async def _client(self) -> Any:
        if self._lease is None:
            async with self._lock:
                if self._lease is None:
                    settings = self._settings
                    try:
                        self._lease = await self._pool.acquire(
                            settings.key(), lambda: _open(settings), _close
                        )
                    except KafkaProblem:
                        raise
                    except Exception as error:
                        servers = ",".join(settings.bootstrap_servers)
                        raise KafkaProblem(f"cannot connect to {servers}: {describe(error)}") from None
        return self._lease.client

    async def _send_any(self, request: Any) -> Any:
        client = await self._client()
        node = client.get_random_node()
        if node is None:
            raise KafkaProblem("no broker is known")
        return await client.send(node, request)

    async def describe(self, topics: Sequence[str]) -> dict[str, list[int]]:
        response = await self._send_any(MetadataRequest(list(topics), allow_auto_topic_creation=False))
        described: dict[str, list[int]] = {}
        for topic in response.to_object()["topics"]:
            name = topic.get("topic", topic.get("name"))
            if topic["error_code"]:
                raise KafkaProblem(
                    f"error describing topics: {_error_name(topic['error_code'])} (topic {name})"
                )
            numbers = []
            for partition in topic["partitions"]:
                numbers.append(partition["partition"])
                self._leaders[(name, partition["partition"])] = partition["leader"]
            described[name] = numbers
        return described

    async def _coordinator(self, group: str) -> int:
        response = await self._send_any(FindCoordinatorRequest(group, 0))
        if response.error_code:
            raise KafkaProblem(
                f"error finding the coordinator of group {group}: {_error_name(response.error_code)}"
            )
        return int(response.coordinator_id)

    async def _offset_fetch(
        self, group: str, partitions: list[tuple[str, list[int]]] | None
    ) -> dict[TopicPartition, int]:
        client = await self._client()
        response = await client.send(await self._coordinator(group), OffsetFetchRequest(group, partitions))
        top_error = getattr(response, "error_code", 0)
        if top_error:
            raise KafkaProblem(f"error listing consumer group offsets: {_error_name(top_error)}")
        offsets: dict[TopicPartition, int] = {}
        for topic, entries in response.topics:
            for entry in entries:
                number, offset, error_code = entry[0], entry[1], entry[-1]
                if error_code:
                    raise KafkaProblem(
                        f"error finding offset block for topic {topic} and partition {number}: {_error_name(error_code)}"
                    )
                offsets[(topic, number)] = int(offset)
        return offsets

    async def group_topics(self, group: str) -> list[str]:
        return sorted({topic for topic, _ in await self._offset_fetch(group, None)})

    async def committed(self, group: str, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        by_topic: dict[str, list[int]] = {}
        for topic, number in partitions:
            by_topic.setdefault(topic, []).append(number)
        return await self._offset_fetch(group, list(by_topic.items()))

    async def _latest_from(self, leader: int, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        by_topic: dict[str, list[tuple[int, int]]] = {}
        for topic, number in partitions:
            by_topic.setdefault(topic, []).append((number, LATEST))
        client = await self._client()
        response = await client.send(leader, OffsetRequest(-1, 0, list(by_topic.items())))
        latest: dict[TopicPartition, int] = {}
        for topic, entries in response.topics:
            for entry in entries:
                number, error_code = entry[0], entry[1]
                if error_code:
                    raise KafkaProblem(
                        f"error listing latest offsets for topic {topic} partition {number}: {_error_name(error_code)}"
                    )
                if response.API_VERSION == 0:
                    values = entry[2]
                    if not values:
                        continue
                    latest[(topic, number)] = int(values[0])
                else:
                    latest[(topic, number)] = int(entry[3])
        return latest

    async def latest(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        by_leader: dict[int, list[TopicPartition]] = {}
        for tp in partitions:
            leader = self._leaders.get(tp, -1)
            if leader < 0:
                raise KafkaProblem(f"no leader known for topic {tp[0]} partition {tp[1]}")
            by_leader.setdefault(leader, []).append(tp)
        answers = await asyncio.gather(*(self._latest_from(leader, tps) for leader, tps in by_leader.items()))
        latest: dict[TopicPartition, int] = {}
        for answer in answers:
            latest.update(answer)
        return latest

    async def aclose(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.release()
