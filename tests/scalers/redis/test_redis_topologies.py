"""`redis-cluster*` and `redis-sentinel*` against real topologies: a 3-node cluster and one sentinel.

Both are started here, on free loopback ports, from the same `redis-server` binary as the suite's Redis
(a sentinel is `redis-server CONFIG --sentinel`), and stopped by PID at the end of the module.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis_helpers as h
from redis import cluster as redis_cluster

from scalers import base, connections, redis_lists, redis_streams
from tests.servers import ports, probes, process, redis_server


class ExtraRedis(process.ManagedServer):
    """A redis-server with extra arguments (a cluster node) or a config file (a sentinel)."""

    def __init__(self, name: str, extra: list[str], config: str | None = None) -> None:
        self.name = name
        super().__init__()
        self.host = ports.HOST
        self.port = ports.free_port()
        self.extra = extra
        self.config = config

    def _launch(self) -> process.Launch:
        binary = str(redis_server.redis_binary())
        argv = [binary]
        if self.config is not None:
            path = Path(self.workdir) / "sentinel.conf"
            path.write_text(self.config.format(port=self.port))
            argv += [str(path), "--sentinel"]
        argv += [
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--save",
            "",
            "--dir",
            str(self.workdir),
            *self.extra,
        ]
        return process.Launch(argv)

    def _is_ready(self) -> bool:
        return probes.exchange(self.host, self.port, b"PING\r\n", expect=7) == b"+PONG\r\n"


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[ExtraRedis]]:
    nodes: list[ExtraRedis] = []
    try:
        for i in range(3):
            nodes.append(
                process.start_with_retries(
                    lambda i=i: ExtraRedis(
                        f"redis-node{i}", ["--cluster-enabled", "yes", "--appendonly", "no"]
                    )
                )
            )
        addresses = [f"{n.host}:{n.port}" for n in nodes]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        deadline = time.monotonic() + 20
        client = redis.Redis(host=nodes[0].host, port=nodes[0].port, decode_responses=True)
        while "cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
            assert time.monotonic() < deadline, "the cluster did not become ready"
            time.sleep(0.1)
        client.close()
        yield nodes
    finally:
        for node in nodes:
            node.close()


async def test_cluster_lists_and_streams_across_slots(cluster: list[ExtraRedis]) -> None:
    first = cluster[0]
    db = redis_cluster.RedisCluster(host=first.host, port=first.port, decode_responses=True)
    names = [f"list-{i}" for i in range(12)]  # spread over the three nodes' slots
    for i, name in enumerate(names):
        db.rpush(name, *range(i + 1))
    db.xadd("events", {"a": "1"})
    db.xadd("events", {"a": "2"})
    addresses = ",".join(f"{n.host}:{n.port}" for n in cluster)
    clients = connections.SharedClients()
    lists = [
        h.build(
            redis_lists.REDIS_CLUSTER,
            h.inputs({"listName": n, "addresses": addresses}, type_name="redis-cluster"),
            clients,
        )
        for n in names
    ]
    stream = h.build(
        redis_streams.REDIS_CLUSTER_STREAMS,
        h.inputs({"stream": "events", "addresses": addresses}, type_name="redis-cluster-streams"),
        clients,
    )
    try:
        readings = await asyncio.gather(*(s.read() for s in lists))
        assert [r.value for r in readings] == [float(i + 1) for i in range(12)]
        assert await stream.read() == base.Reading(2.0, True)
        assert len(clients) == 1
    finally:
        for s in [*lists, stream]:
            await s.aclose()
        db.close()


SENTINEL_CONFIG = """
port {port}
sentinel monitor mymaster {master_host} {master_port} 1
sentinel down-after-milliseconds mymaster 5000
"""


@pytest.fixture(scope="module")
def sentinel() -> Iterator[tuple[ExtraRedis, ExtraRedis]]:
    master = process.start_with_retries(lambda: ExtraRedis("redis-master", ["--appendonly", "no"]))
    sentinel_server: ExtraRedis | None = None
    try:
        config = SENTINEL_CONFIG.replace("{master_host}", master.host).replace(
            "{master_port}", str(master.port)
        )
        sentinel_server = process.start_with_retries(lambda: ExtraRedis("redis-sentinel", [], config=config))
        probe = redis.Redis(host=sentinel_server.host, port=sentinel_server.port, decode_responses=True)
        deadline = time.monotonic() + 20
        while not probe.execute_command("SENTINEL", "get-master-addr-by-name", "mymaster"):
            assert time.monotonic() < deadline, "the sentinel does not know the master"
            time.sleep(0.1)
        probe.close()
        yield master, sentinel_server
    finally:
        if sentinel_server is not None:
            sentinel_server.close()
        master.close()


async def test_sentinel_finds_the_master_for_lists_and_streams(
    sentinel: tuple[ExtraRedis, ExtraRedis],
) -> None:
    master, sentinel_server = sentinel
    db = redis.Redis(host=master.host, port=master.port, db=2, decode_responses=True)
    db.flushdb()
    db.rpush("jobs", "a", "b", "c")
    db.xadd("events", {"a": "1"})
    clients = connections.SharedClients()
    where = {
        "host": sentinel_server.host,
        "port": str(sentinel_server.port),
        "sentinelMaster": "mymaster",
        "databaseIndex": "2",
    }
    lists = h.build(
        redis_lists.REDIS_SENTINEL,
        h.inputs({"listName": "jobs", **where}, type_name="redis-sentinel"),
        clients,
    )
    streams = h.build(
        redis_streams.REDIS_SENTINEL_STREAMS,
        h.inputs({"stream": "events", **where}, type_name="redis-sentinel-streams"),
        clients,
    )
    unknown = h.build(
        redis_lists.REDIS_SENTINEL,
        h.inputs({"listName": "jobs", **where, "sentinelMaster": "nobody"}, type_name="redis-sentinel"),
        clients,
    )
    try:
        assert await lists.read() == base.Reading(3.0, True)
        assert await streams.read() == base.Reading(1.0, True)
        with pytest.raises(base.SourceError, match=r"nobody|MasterNotFound"):
            await unknown.read()
    finally:
        for s in (lists, streams, unknown):
            await s.aclose()
        db.close()
