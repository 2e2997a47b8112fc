"""RabbitMQ for the suite, with the management API: `/usr/lib/rabbitmq/bin/rabbitmq-server` (Debian
package `rabbitmq-server`) run as the current user with a private HOME, node name, data directory and
epmd (started by us on its own port, so it is stopped with the broker), all on free loopback ports.

Fixture:
- `rabbitmq_server` (session): a `RabbitMQServer`. It takes 8–17 s to start, so it is started in the
  background as soon as collection shows some test will use it; tests that run first are not delayed.

A `RabbitMQServer` offers `.host`, `.amqp_port`, `.management_port`, `.amqp_url`
(`amqp://guest:guest@127.0.0.1:PORT/`), `.management_url` (`http://guest:guest@127.0.0.1:MPORT`),
`.username`/`.password` (guest/guest), `.management(path, method=..., body=...)` (status and JSON of
`/api/<path>`), `.queue_path(queue, vhost)` (`queues/<vhost>/<queue>`, encoded), `.add_vhost(name)`
(created, with full permissions for guest), `.wait_for_management(path, predicate, timeout)` (polls until the JSON satisfies the
predicate; the management statistics refresh about every second here, and the first consistent read
comes 1–2 s after a publish), `.rabbitmqctl(*args)`, and `.stop()`/`.start()`/`.stopped()` on the same
ports (a graceful stop takes about 8 s; queues that are not durable are gone afterwards). Ready means an
AMQP handshake is answered and `/api/overview` returns 200.
"""

import http.client
import os
import secrets
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ports, probes, process, shared

pytest_plugins = ["tests.servers.suite"]

INSTALL_HINT = "install the Debian package `rabbitmq-server` (scripts/install-servers does it)"
SERVER_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
CTL_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmqctl")

# AMQP 0-9-1 protocol header; a broker answers with a Connection.Start method frame (type 1, channel 0).
_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"

_CONFIG = """\
listeners.tcp.default = {host}:{amqp_port}
management.tcp.ip = {host}
management.tcp.port = {management_port}
# Statistics every second instead of every 5 s, so tests see fresh queue counts and rates quickly.
collect_statistics_interval = 1000
management.sample_retention_policies.global.minute = 1
management.sample_retention_policies.basic.minute = 1
management.sample_retention_policies.detailed.10 = 1
log.console = true
log.console.level = info
log.file = false
"""


class RabbitMQServer(process.ManagedServer):
    name = "rabbitmq"
    start_timeout = 90.0
    stop_grace = 30.0
    # Nothing is kept after the run, so the 8 s graceful shutdown is skipped on close.
    close_grace = 0.0
    username = "guest"
    password = "guest"

    def __init__(self, server_script: Path, epmd: Path) -> None:
        self.server_script = server_script
        self.epmd_binary = epmd
        self.host = ports.HOST
        self.amqp_port = ports.free_port()
        self.management_port = ports.free_port()
        self.dist_port = ports.free_port()
        self.epmd_port = ports.free_port()
        self.node_name = f"ebb-{secrets.token_hex(4)}@localhost"
        self._epmd: process.ServerProcess | None = None
        super().__init__()

    def _prepare(self) -> None:
        (self.workdir / "mnesia").mkdir()
        (self.workdir / "log").mkdir()
        (self.workdir / "rabbitmq.conf").write_text(
            _CONFIG.format(host=self.host, amqp_port=self.amqp_port, management_port=self.management_port)
        )
        # Enables the management plugin without a rabbitmq-plugins call.
        (self.workdir / "enabled_plugins").write_text("[rabbitmq_management].\n")

    @property
    def amqp_url(self) -> str:
        return f"amqp://{self.username}:{self.password}@{self.host}:{self.amqp_port}/"

    @property
    def management_url(self) -> str:
        return f"http://{self.username}:{self.password}@{self.host}:{self.management_port}"

    def environment(self) -> dict[str, str]:
        """The environment the broker and its CLI tools run with."""
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_")) and key != "HOME"
        }
        return inherited | {
            "HOME": str(self.workdir),  # the Erlang cookie is written here
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_NODE_IP_ADDRESS": self.host,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": self.host,
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.workdir / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            # Our own epmd is already running; the VM must not start (and leave behind) another.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-start_epmd false",
        }

    def _start_helpers(self, cancel: threading.Event | None) -> None:
        self._epmd = process.ServerProcess.spawn(
            "epmd",
            [str(self.epmd_binary), "-port", str(self.epmd_port), "-address", self.host],
            log_path=self.workdir / "epmd.log",
            cwd=self.workdir,
        )
        self._epmd.wait_ready(lambda: probes.tcp_accepts(self.host, self.epmd_port), 10.0, cancel)

    def _stop_helpers(self) -> None:
        if self._epmd is not None:
            self._epmd.stop(grace=2.0)
            self._epmd = None

    def _launch(self) -> process.Launch:
        return process.Launch([str(self.server_script)], self.environment())

    def _is_ready(self) -> bool:
        answer = probes.exchange(self.host, self.amqp_port, _AMQP_HEADER, expect=3)
        if answer[:3] != b"\x01\x00\x00":
            return False
        return probes.http_ok(f"{self._api_base()}/overview", self._authorization())

    def _describe(self) -> str:
        return f"amqp {self.host}:{self.amqp_port}, management :{self.management_port}"

    def _api_base(self) -> str:
        return f"http://{self.host}:{self.management_port}/api"

    def _authorization(self) -> str:
        return probes.basic_auth(self.username, self.password)

    def management(self, path: str, *, method: str = "GET", body: Any = None) -> tuple[int, Any]:
        """Call the management API at `/api/<path>` (quote vhosts yourself: `queues/%2F/name`)."""
        return probes.http_json(
            f"{self._api_base()}/{path.lstrip('/')}",
            method=method,
            body=body,
            authorization=self._authorization(),
            timeout=10.0,
        )

    def wait_for_management(self, path: str, predicate: Callable[[Any], bool], timeout: float = 20.0) -> Any:
        """Poll `/api/<path>` until a 200 answer's JSON satisfies `predicate`; that JSON."""
        deadline = time.monotonic() + timeout
        last: tuple[int, Any] | str | None = None
        while True:
            try:
                last = self.management(path)
            except (OSError, http.client.HTTPException) as error:
                last = f"{type(error).__name__}: {error}"
            if isinstance(last, tuple) and last[0] == 200 and predicate(last[1]):
                return last[1]
            if time.monotonic() >= deadline:
                raise AssertionError(f"/api/{path} did not match within {timeout} s; last answer: {last}")
            time.sleep(0.25)

    @staticmethod
    def queue_path(queue: str, vhost: str = "/") -> str:
        """`queues/<vhost>/<queue>`, both percent-encoded, for `management()`."""
        return f"queues/{urllib.parse.quote(vhost, safe='')}/{urllib.parse.quote(queue, safe='')}"

    def add_vhost(self, vhost: str) -> None:
        """Create `vhost` (if missing) and give the guest user full permissions on it."""
        quoted = urllib.parse.quote(vhost, safe="")
        permissions = {"configure": ".*", "write": ".*", "read": ".*"}
        for path, body in [
            (f"vhosts/{quoted}", {}),
            (f"permissions/{quoted}/{urllib.parse.quote(self.username, safe='')}", permissions),
        ]:
            status, answer = self.management(path, method="PUT", body=body)
            if status not in (201, 204):
                raise RuntimeError(f"PUT /api/{path} answered {status}: {answer}")

    def rabbitmqctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run `rabbitmqctl` against this node; its output. Raises CalledProcessError on failure."""
        result = subprocess.run(
            [str(self.server_script.with_name("rabbitmqctl")), *args],
            env=self.environment(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return result.stdout


def _make_server() -> RabbitMQServer:
    server_script = process.find_binary("RabbitMQ", [SERVER_SCRIPT], INSTALL_HINT)
    epmd = process.find_binary(
        "epmd (Erlang, a dependency of rabbitmq-server)", ["epmd", Path("/usr/bin/epmd")], INSTALL_HINT
    )
    return RabbitMQServer(server_script, epmd)


_EARLY = shared.Early("rabbitmq_server", _make_server)


def pytest_collection_finish(session: pytest.Session) -> None:
    _EARLY.begin_if_needed(session)


def pytest_sessionfinish() -> None:
    _EARLY.close()


@pytest.fixture(scope="session")
def rabbitmq_server() -> Iterator[RabbitMQServer]:
    with shared.failing_clearly():
        server = _EARLY.take()
    shared.SHARED.append(server)
    yield server
    shared.SHARED.remove(server)
    _EARLY.close()
