"""The pytest plugin of the server fixtures (registered by each server module through `pytest_plugins`):
after each test, any session-wide server the test left stopped is started again; at the end of the run,
the terminal summary lists how long each server took to become ready.

It also marks the main thread as having no current event loop at the start of the run. Without that,
looptime's `pytest_pyfunc_call` asks the policy for the current loop around every *sync* test that runs
before the first async one, and Python 3.11's policy then creates a loop nobody closes; its
ResourceWarning surfaces later, at a random garbage collection, as an error in an unrelated test.

Kept free of anything the server modules import, so pytest can load it as a plugin with its asserts
rewritten.
"""

import asyncio
from collections.abc import Iterator

import pytest

from tests.servers import process, shared


def pytest_sessionstart() -> None:
    asyncio.set_event_loop(None)


@pytest.fixture(autouse=True)
def _restart_stopped_shared_servers() -> Iterator[None]:
    yield
    for server in shared.SHARED:
        if not server.running:
            server.start()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not process.START_RECORDS:
        return
    terminalreporter.section("servers started (seconds to ready)")
    for record in process.START_RECORDS:
        terminalreporter.write_line(f"{record.name:<12} {record.seconds:6.2f} s  {record.detail}")
