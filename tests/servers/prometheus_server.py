"""Prometheus for the suite, scraping an exporter that tests drive: the `prometheus` binary from PATH or
from `.cache/prometheus/usr/bin/` (scripts/install-servers unpacks Debian's package there), on a free
loopback port, scraping every second.

Fixture:
- `prometheus_server` (session): a `PrometheusServer`. Prometheus only begins scraping a new target about
  5 s after it starts, so the fixture is started in the background as soon as collection shows a test
  will use it, and its start includes the exporter's first successful scrape; after that a new value
  is queryable within 1–2 s.

A `PrometheusServer` offers `.host`, `.port`, `.url` (`http://127.0.0.1:PORT`), `.exporter` (an
`Exporter`), `.query(promql)` (the instant query's `data.result` list; raises on an error answer),
`.wait_for_query(promql, predicate, timeout=20)` and `await .wait_for_query_async(...)` (poll until
`predicate(result)` holds, then return the result; an AssertionError with the last answer otherwise),
`.value(result)` (the single series' value as a float), and `.stop()`/`.start()`/`.stopped()`.

An `Exporter` is an in-process `prometheus_client` HTTP exporter on its own `CollectorRegistry` and free
port (`.url`, scraped by Prometheus as job `exporter`): `.gauge(name, labelnames)` and
`.counter(name, labelnames)` create or return a metric, `.set_gauge(name, value, labels)` and
`.inc_counter(name, amount, labels)` drive them, `.remove(name)` drops one. The registry is shared by
the run: use metric names unique to the test.
"""

import asyncio
import http.client
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

import prometheus_client
import pytest

from tests.servers import ports, probes, process, shared

pytest_plugins = ["tests.servers.suite"]

INSTALL_HINT = (
    "run scripts/install-servers (it unpacks Debian's `prometheus` package into .cache/prometheus/), "
    "or install the Debian package `prometheus`"
)
REPO_ROOT = Path(__file__).resolve().parents[2]
CACHED_BINARY = REPO_ROOT / ".cache" / "prometheus" / "usr" / "bin" / "prometheus"
SCRAPE_JOB = "exporter"

_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: {job}
    static_configs:
      - targets: ["{target}"]
"""

Series = dict[str, Any]
"""One element of an instant query's `data.result`: `{"metric": {...}, "value": [timestamp, "text"]}`."""


class Exporter:
    """A `prometheus_client` exporter on its own registry, served on a free loopback port."""

    def __init__(self) -> None:
        self.registry = prometheus_client.CollectorRegistry()
        self.host = ports.HOST
        served: tuple[WSGIServer, threading.Thread] = prometheus_client.start_http_server(
            0, addr=self.host, registry=self.registry
        )
        self._server, self._thread = served
        self.port: int = self._server.server_port
        self._metrics: dict[str, prometheus_client.Gauge | prometheus_client.Counter] = {}
        self._lock = threading.Lock()

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.target}/metrics"

    def gauge(self, name: str, labelnames: Sequence[str] = ()) -> prometheus_client.Gauge:
        with self._lock:
            metric = self._metrics.get(name)
            if metric is None:
                metric = prometheus_client.Gauge(
                    name, f"test gauge {name}", labelnames, registry=self.registry
                )
                self._metrics[name] = metric
        if not isinstance(metric, prometheus_client.Gauge):
            raise TypeError(f"exporter metric {name!r} is a {type(metric).__name__}, not a Gauge")
        return metric

    def counter(self, name: str, labelnames: Sequence[str] = ()) -> prometheus_client.Counter:
        """A counter; prometheus_client exposes it as `<name>_total` (a `_total` suffix given is dropped)."""
        with self._lock:
            metric = self._metrics.get(name)
            if metric is None:
                metric = prometheus_client.Counter(
                    name, f"test counter {name}", labelnames, registry=self.registry
                )
                self._metrics[name] = metric
        if not isinstance(metric, prometheus_client.Counter):
            raise TypeError(f"exporter metric {name!r} is a {type(metric).__name__}, not a Counter")
        return metric

    def set_gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        labels = labels or {}
        gauge = self.gauge(name, sorted(labels))
        (gauge.labels(**labels) if labels else gauge).set(value)

    def inc_counter(self, name: str, amount: float = 1.0, labels: Mapping[str, str] | None = None) -> None:
        labels = labels or {}
        counter = self.counter(name, sorted(labels))
        (counter.labels(**labels) if labels else counter).inc(amount)

    def remove(self, name: str) -> None:
        with self._lock:
            metric = self._metrics.pop(name, None)
        if metric is not None:
            self.registry.unregister(metric)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)


class PrometheusServer(process.ManagedServer):
    name = "prometheus"
    start_timeout = 30.0
    first_scrape_timeout = 30.0

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.host = ports.HOST
        self.port = ports.free_port()
        self.first_scrape_seconds: float | None = None
        self.exporter = Exporter()
        super().__init__()

    @property
    def config_path(self) -> Path:
        return self.workdir / "prometheus.yml"

    def _prepare(self) -> None:
        self.config_path.write_text(_CONFIG.format(job=SCRAPE_JOB, target=self.exporter.target))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _launch(self) -> process.Launch:
        return process.Launch(
            [
                str(self.binary),
                f"--config.file={self.config_path}",
                f"--web.listen-address={self.host}:{self.port}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                "--storage.tsdb.retention.time=1h",
            ]
        )

    def _is_ready(self) -> bool:
        return probes.http_ok(f"{self.url}/-/ready")

    def _after_ready(self, cancel: threading.Event | None) -> None:
        """Wait for the exporter's first successful scrape since this start."""
        started_at = time.time() - (self.ready_seconds or 0.0)
        began = time.monotonic()
        deadline = began + self.first_scrape_timeout
        # The timestamp of the newest `up` sample, so a sample kept from before a restart does not count.
        up = f'timestamp(up{{job="{SCRAPE_JOB}"}}) and up{{job="{SCRAPE_JOB}"}} == 1'
        while True:
            last = self._attempt(up)
            newest = self.value(last) if isinstance(last, list) else None
            if newest is not None and newest >= started_at:
                break
            if (cancel is not None and cancel.is_set()) or time.monotonic() >= deadline:
                raise process.StartupError(
                    f"Prometheus did not scrape the exporter at {self.exporter.url} within "
                    f"{self.first_scrape_timeout:.0f} s; last answer to {up}: {last}; log ends with:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.2)
        self.first_scrape_seconds = time.monotonic() - began

    def _describe(self) -> str:
        return f"{self.url}, first scrape of the exporter {self.first_scrape_seconds or 0.0:.2f} s later"

    def close(self) -> None:
        super().close()
        self.exporter.close()

    def query(self, promql: str) -> list[Series]:
        """The instant query's `data.result`; RuntimeError on an error answer."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        status, body = probes.http_json(url, timeout=10.0)
        if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
            raise RuntimeError(f"query {promql!r} failed: HTTP {status}: {body}")
        data = body["data"]
        if data.get("resultType") != "vector":
            raise RuntimeError(f"query {promql!r} gave a {data.get('resultType')}, not an instant vector")
        result: list[Series] = data["result"]
        return result

    @staticmethod
    def value(result: list[Series]) -> float | None:
        """The value of the only series in `result`; None when there is none (NaN stays NaN)."""
        if len(result) != 1:
            return None
        return float(result[0]["value"][1])

    def wait_for_query(
        self, promql: str, predicate: Callable[[list[Series]], bool], timeout: float = 20.0
    ) -> list[Series]:
        """Poll the instant query until `predicate(result)` holds; the result."""
        deadline = time.monotonic() + timeout
        while True:
            last = self._attempt(promql)
            if isinstance(last, list) and predicate(last):
                return last
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"query {promql!r} did not match within {timeout} s; last answer: {last}"
                )
            time.sleep(0.2)

    async def wait_for_query_async(
        self,
        promql: str,
        predicate: Callable[[list[Series]], bool],
        timeout: float = 20.0,  # noqa: ASYNC109 - a deadline for polling, the same contract as the sync one
    ) -> list[Series]:
        """`wait_for_query` for async tests (real time: do not combine with looptime's virtual clock)."""
        deadline = time.monotonic() + timeout
        while True:
            last = await asyncio.to_thread(self._attempt, promql)
            if isinstance(last, list) and predicate(last):
                return last
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"query {promql!r} did not match within {timeout} s; last answer: {last}"
                )
            await asyncio.sleep(0.2)

    def _attempt(self, promql: str) -> list[Series] | str:
        try:
            return self.query(promql)
        except (OSError, RuntimeError, http.client.HTTPException) as error:
            return f"{type(error).__name__}: {error}"


def prometheus_binary() -> Path:
    return process.find_binary("Prometheus", ["prometheus", CACHED_BINARY], INSTALL_HINT)


def _make_server() -> PrometheusServer:
    return PrometheusServer(prometheus_binary())


_EARLY = shared.Early("prometheus_server", _make_server)


def pytest_collection_finish(session: pytest.Session) -> None:
    _EARLY.begin_if_needed(session)


def pytest_sessionfinish() -> None:
    _EARLY.close()


@pytest.fixture(scope="session")
def prometheus_server() -> Iterator[PrometheusServer]:
    with shared.failing_clearly():
        server = _EARLY.take()
    shared.SHARED.append(server)
    yield server
    shared.SHARED.remove(server)
    _EARLY.close()
