"""Real servers for the suite (Redis, RabbitMQ, a Kafka-protocol broker, Prometheus), each started on a
free loopback port in a temporary directory and stopped by PID. A missing server binary fails the test
that needs it; it is never a skip."""
