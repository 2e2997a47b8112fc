"""Redis for the suite: `/usr/bin/redis-server` (Debian package `redis-server`) on a free loopback port.

Fixtures:
- `redis_server` (session): a `RedisServer` shared by the run.
- `redis_server_factory` (function): a callable that starts a private `RedisServer`; each one is stopped
  and removed when the test ends. Use it when a test changes server state others could see.

A `RedisServer` offers `.host`, `.port`, `.url` (`redis://127.0.0.1:PORT`), `.pid`, `.running`,
`.stop()` and `.start()` (again on the same port, for outage tests; the data is gone: nothing is
persisted), and `.stopped()`, a context manager that stops it for the block and always starts it again,
which keeps the shared server usable for later tests even when the block fails. Its output is in
`.log_path`. Ready means it answers PING.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import ports, probes, process, shared

pytest_plugins = ["tests.servers.suite"]

INSTALL_HINT = "install the Debian package `redis-server` (scripts/install-servers does it)"


def redis_binary() -> Path:
    return process.find_binary("Redis", [Path("/usr/bin/redis-server"), "redis-server"], INSTALL_HINT)


class RedisServer(process.ManagedServer):
    name = "redis"
    start_timeout = 15.0

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.host = ports.HOST
        self.port = ports.free_port()
        super().__init__()

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"

    def _launch(self) -> process.Launch:
        return process.Launch(
            [
                str(self.binary),
                "--port", str(self.port),
                "--bind", self.host,
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", str(self.workdir),
                "--logfile", "",
            ]
        )  # fmt: skip

    def _is_ready(self) -> bool:
        return probes.exchange(self.host, self.port, b"PING\r\n", expect=7) == b"+PONG\r\n"

    def _describe(self) -> str:
        return self.url


def start_redis() -> RedisServer:
    binary = redis_binary()
    return process.start_with_retries(lambda: RedisServer(binary))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with shared.failing_clearly():
        server = start_redis()
    shared.SHARED.append(server)
    yield server
    shared.SHARED.remove(server)
    server.close()


@pytest.fixture
def redis_server_factory() -> Iterator[Callable[[], RedisServer]]:
    started: list[RedisServer] = []

    def start() -> RedisServer:
        with shared.failing_clearly():
            server = start_redis()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
