"""A Kafka-protocol broker for the suite: noida-db (PyPI `noida-db`, in the dev extra), whose wheel ships
the broker binary; we run that binary directly (not the Python wrapper) so the PID we stop is the
broker's. Chosen over tansu because its consumer-group lag is right with batching producers
(`/work/shared/notes/servers.md` §3).

Fixture:
- `kafka_server` (session): a `KafkaServer`.

A `KafkaServer` offers `.host`, `.port`, `.bootstrap` (`127.0.0.1:PORT`, for aiokafka's
`bootstrap_servers`), `.pid`, `.running`, and `.stop()`/`.start()`/`.stopped()` on the same port (topics,
records and committed offsets are kept on disk in its temporary directory across a restart). Topics are
not created automatically by every client; create them with aiokafka's admin client. Use topic and group
names unique to the test: the broker is shared by the run. Ready means it answers an ApiVersions request.
"""

import importlib.util
import os
import stat
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ports, probes, process, shared

pytest_plugins = ["tests.servers.suite"]

INSTALL_HINT = "install the PyPI package `noida-db` into .venv (it is in the dev extra: scripts/bootstrap)"

_CORRELATION_ID = 7
_CLIENT_ID = b"ebb-readiness"
# ApiVersions (key 18) version 0: the header only, no body.
_API_VERSIONS_REQUEST_BODY = struct.pack(">hhih", 18, 0, _CORRELATION_ID, len(_CLIENT_ID)) + _CLIENT_ID
_API_VERSIONS_REQUEST = struct.pack(">i", len(_API_VERSIONS_REQUEST_BODY)) + _API_VERSIONS_REQUEST_BODY


def noida_binary() -> Path:
    """The broker binary inside the installed `noida_db` package, made executable."""
    spec = importlib.util.find_spec("noida_db")
    if spec is None or not spec.submodule_search_locations:
        raise process.BinaryMissing(f"noida-db (the Kafka-protocol broker) is not installed: {INSTALL_HINT}")
    binary = Path(next(iter(spec.submodule_search_locations))) / "noida-db"
    if not binary.is_file():
        raise process.BinaryMissing(f"noida-db's binary is missing at {binary}: {INSTALL_HINT}")
    if not os.access(binary, os.X_OK):
        # The package's own wrapper does this on first use; we call the binary directly.
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


class KafkaServer(process.ManagedServer):
    name = "kafka"
    start_timeout = 15.0

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.host = ports.HOST
        self.port = ports.free_port()
        super().__init__()

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def _launch(self) -> process.Launch:
        return process.Launch(
            [
                str(self.binary),
                "start",
                "--data-dir", str(self.workdir / "data"),
                "--host", self.host,
                "--only", "kafka",
                "--kafka-port", str(self.port),
            ]
        )  # fmt: skip

    def _is_ready(self) -> bool:
        answer = probes.exchange(self.host, self.port, _API_VERSIONS_REQUEST, expect=10)
        if len(answer) < 10:
            return False
        _size, correlation_id, error_code = struct.unpack(">iih", answer[:10])
        return bool(correlation_id == _CORRELATION_ID and error_code == 0)

    def _describe(self) -> str:
        return self.bootstrap


def start_kafka() -> KafkaServer:
    binary = noida_binary()
    return process.start_with_retries(lambda: KafkaServer(binary))


@pytest.fixture(scope="session")
def kafka_server() -> Iterator[KafkaServer]:
    with shared.failing_clearly():
        server = start_kafka()
    shared.SHARED.append(server)
    yield server
    shared.SHARED.remove(server)
    server.close()
