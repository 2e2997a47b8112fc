"""Real servers for the suite (Redis, RabbitMQ, a Kafka-protocol broker, Prometheus), each started on a
free loopback port in a temporary directory and stopped by PID. A missing server binary fails the test
that needs it; it is never a skip.

- `redis_server`, `rabbitmq_server`, `kafka_server`, `prometheus_server`: one module per server, each
  holding its handle class and fixtures (documented at the top of the module); registered as pytest
  plugins in `tests/conftest.py`.
- `process`: starting, readiness deadlines, stopping by PID and process group, restarts on the same
  ports, retries on fresh ports; `ports`: free loopback ports; `probes`: socket and HTTP checks.
- `shared`: clear failures, background starts of slow servers, the list of session-wide servers;
  `suite`: the pytest plugin (restart servers a test left stopped, timing summary).
- `watchdog`: the guard process that stops the servers if the test run is killed.
"""
