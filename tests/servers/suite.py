"""The pytest plugin of the server fixtures (registered by each server module through `pytest_plugins`):
after each test, any session-wide server the test left stopped is started again; at the end of the run,
the terminal summary lists how long each server took to become ready.

Kept free of anything the server modules import, so pytest can load it as a plugin with its asserts
rewritten.
"""

from collections.abc import Iterator

import pytest

from tests.servers import process, shared


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
