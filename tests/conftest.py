"""Suite-wide fixtures. Server fixtures live in `tests.servers.*` and are registered here once, so a
session-scoped server is started at most once per run, whichever test directory asks for it."""

pytest_plugins = [
    "tests.servers.redis_server",
    "tests.servers.rabbitmq_server",
    "tests.servers.kafka_server",
    "tests.servers.prometheus_server",
]
