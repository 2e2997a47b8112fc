"""What a stranger can make the operator print: malformed HTTP requests get a 400 and at most one
rate-limited DEBUG line (no ERROR, no traceback); log lines, masking and redaction stay one line each and
take time linear in what they are given."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest

from scaler.operator import decision_log, http_server, operator_metrics, quiet_logging
from scalers import url_masking
from tests.hostile import garbage

GARBAGE = [
    pytest.param(b"GARBAGE\r\n\r\n", id="bad-method"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", id="negative-length"),
    pytest.param(b"GET /\x00\x01 HTTP/1.1\r\n\r\n", id="control-in-path"),
    pytest.param(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(50), id="tls-hello"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n", id="bad-chunk"),
    pytest.param(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 10_000 + b"\r\n\r\n", id="header-too-long"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nX: a\nEvil: line\x1b[2J\r\n\r\n", id="bare-newline"),
]


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = http_server.make_app(metrics=operator_metrics.OperatorMetrics(), decisions=decision_log.DecisionLog(),
                               health=http_server.HealthState())
    runner = await http_server.serve(app, "127.0.0.1", 0)
    try:
        yield http_server.bound_port(runner)
    finally:
        await http_server.stop(runner)

@pytest.mark.parametrize("payload", GARBAGE)
async def test_a_malformed_request_gets_400_and_no_error_line(
    port: int, payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = await garbage.send(port, payload)
    assert answer.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400")), answer
    await asyncio.sleep(0.05)
    loud = [r for r in caplog.records if r.levelno > logging.DEBUG or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]
    assert all("\n" not in r.getMessage() and "\x1b" not in r.getMessage() for r in caplog.records)


async def test_a_flood_of_garbage_costs_one_debug_line(port: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=quiet_logging.SERVER_LOGGER.name)
    for _ in range(50):
        assert (await garbage.send(port, b"GARBAGE\r\n\r\n")).startswith(b"HTTP/1.0 400")
    # The server still answers real requests.
    assert b"200 OK" in await garbage.send(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    lines = [r for r in caplog.records if r.name == quiet_logging.SERVER_LOGGER.name]
    assert len(lines) <= 1, [r.getMessage() for r in lines]


def test_the_garbage_line_says_how_many_were_dropped() -> None:
    now = [0.0]
    garbage = quiet_logging.GarbageFilter(interval=60.0, clock=lambda: now[0])

    def record() -> logging.LogRecord:
        from aiohttp import http_exceptions
        error = http_exceptions.BadHttpMessage("Invalid\nthing")
        return logging.LogRecord("ebb.http", logging.ERROR, __file__, 1, "Error handling request from %s",
                                 ("10.0.0.9",), (type(error), error, None))

    first = record()
    garbage.filter(first)
    assert (first.levelno, first.exc_info) == (logging.DEBUG, None)
    assert [garbage.filter(record()) for _ in range(3)] == [False, False, False]
    now[0] = 61.0
    later = record()
    garbage.filter(later)
    assert "10.0.0.9" in later.getMessage() and "(3 more not logged in the last 60 s)" in later.getMessage()
    assert "\n" not in later.getMessage()


def test_the_escaping_filter_keeps_each_record_on_one_line() -> None:
    record = logging.LogRecord("ebb", logging.WARNING, __file__, 1, "object %s failed", ("a\nFAKE ERROR\x1b[31m",), None)
    assert quiet_logging.EscapingFilter().filter(record)
    assert record.getMessage() == "object a\\nFAKE ERROR\\x1b[31m failed"


HOSTILE_TEXTS: list[Callable[[int], str]] = [
    lambda n: ":" * n,
    lambda n: "a:" * (n // 2),
    lambda n: "x" * n + ":",
    lambda n: "a:b@" * (n // 4),
    lambda n: '{"k":"' + "token" * (n // 5) + '"}',
    lambda n: "://" + "@" * n,
    lambda n: " a:b@c" * (n // 6),
]


@pytest.mark.parametrize("make", HOSTILE_TEXTS)
def test_masking_and_redaction_are_linear(make: Callable[[int], str]) -> None:
    def cost(n: int) -> float:
        text = make(n)
        began = time.process_time()
        url_masking.mask(text, ["hunter2"])
        decision_log.redact_json(text)
        return time.process_time() - began

    small, large = cost(50_000), cost(400_000)
    # 8x the text: ~8x the time when linear, 64x when quadratic (a 40 KB parameter took seconds before).
    assert large < 24 * small + 0.05, (small, large)
    assert large < 2.0
