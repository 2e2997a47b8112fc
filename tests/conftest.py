"""Suite-wide fixtures and settings. Server fixtures live in `tests.servers.*` and are registered here
once, so a session-scoped server is started at most once per run, whichever test directory asks for it."""

import asyncio

pytest_plugins = [
    "tests.servers.redis_server",
    "tests.servers.rabbitmq_server",
    "tests.servers.kafka_server",
    "tests.servers.prometheus_server",
]


def pytest_sessionstart() -> None:
    # Mark the main thread as having no current event loop. Otherwise looptime's pyfunc hook asks the
    # policy for the current loop around every *sync* test that runs before the first async one, and
    # Python 3.11's policy creates a loop nobody closes; its ResourceWarning surfaces later, at a random
    # garbage collection, as an error in an unrelated test (warnings are errors here).
    asyncio.set_event_loop(None)
