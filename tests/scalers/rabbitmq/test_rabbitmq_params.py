"""The `rabbitmq` trigger's parameters: KEDA's accept/reject rules in KEDA's order, the effective mode and
value, the metric name and target, the management URL and the AMQP target. No server needed."""

from __future__ import annotations

import pytest
import rabbitmq_helpers as h

from scalers import base, rabbitmq_queues

HTTP = h.HTTP_HOST
AMQP = h.AMQP_HOST
MODES_ERROR = (
    "trigger mode Foo must be one of QueueLength, MessageRate, DeliverGetRate, "
    "PublishedToDeliveredRatio, ExpectedQueueConsumptionTime"
)
CERT_AUTH = {"tls": "enable", "cert": "PEM-CERT", "key": "PEM-KEY"}
OAUTH = {"oauthTokenURI": "https://idp/token", "clientID": "ebb", "clientSecret": "s3cr3t"}


# --- accept / reject ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "auth", "expected"),
    [
        pytest.param({"queueName": "q", "host": AMQP}, {}, [], id="amqp-defaults"),
        pytest.param({"queueName": "q", "host": HTTP}, {}, [], id="http-defaults"),
        pytest.param({"queueName": "q"}, {"host": HTTP}, [], id="host-from-auth"),
        pytest.param(
            {"queueName": "q", "host": AMQP, "queueLength": "10"}, {}, [], id="deprecated-queueLength-alone"
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "mode": "QueueLength", "value": "50"},
            {},
            [],
            id="queue-length-amqp",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "mode": "MessageRate", "value": "100"},
            {},
            [],
            id="message-rate-http",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "mode": "DeliverGetRate", "value": "1.5"},
            {},
            [],
            id="deliver-rate-http",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "mode": "PublishedToDeliveredRatio", "value": "1"},
            {},
            [],
            id="ratio-http",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "mode": "ExpectedQueueConsumptionTime", "value": "30"},
            {},
            [],
            id="eta-http",
        ),
        pytest.param({"queueName": "q", "host": AMQP, "protocol": "amqp"}, {}, [], id="explicit-amqp"),
        pytest.param({"queueName": "q", "host": HTTP, "protocol": "http"}, {}, [], id="explicit-http"),
        pytest.param({"queueName": "q", "host": HTTP}, {"protocol": "http"}, [], id="protocol-from-auth"),
        pytest.param(
            {"queueName": "^q.*", "host": HTTP, "useRegex": "true", "pageSize": "1"}, {}, [], id="regex-http"
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "excludeUnacknowledged": "true"},
            {},
            [],
            id="exclude-unacked-http",
        ),
        pytest.param({"queueName": "q", "host": HTTP, "timeout": "1000"}, {}, [], id="timeout-ms-http"),
        pytest.param({"queueName": "q", "host": HTTP, "timeout": "5s"}, {}, [], id="timeout-duration-http"),
        # KEDA returns early for the default and the queueLength forms, before its AMQP-timeout check.
        pytest.param(
            {"queueName": "q", "host": AMQP, "timeout": "1000"}, {}, [], id="amqp-timeout-with-defaults"
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "timeout": "1000", "queueLength": "5"},
            {},
            [],
            id="amqp-timeout-queueLength",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "timeout": "0", "mode": "QueueLength", "value": "5"},
            {},
            [],
            id="amqp-zero-timeout",
        ),
        pytest.param({"queueName": "q", "host": AMQP}, CERT_AUTH, [], id="tls-cert-and-key"),
        pytest.param(
            {"queueName": "q", "host": AMQP}, {"username": "u", "password": "p"}, [], id="username-password"
        ),
        pytest.param({"queueName": "q", "host": HTTP}, OAUTH, [], id="oauth2-http"),
        pytest.param(
            {"queueName": "q", "host": HTTP}, {"workloadIdentityResource": "api://x"}, [], id="wi-http"
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "operation": "median"}, {}, [], id="bad-operation-only-at-read"
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "value": "-3", "mode": "QueueLength"},
            {},
            [],
            id="negative-value",
        ),
        # --- rejections, one rule each, with KEDA's messages ---
        pytest.param(
            {"host": AMQP},
            {},
            ['metadata.queueName: missing required parameter "queueName" in [triggerMetadata]'],
            id="no-queue",
        ),
        pytest.param(
            {"queueName": "q"},
            {},
            [
                'metadata.host: missing required parameter "host" in [triggerMetadata, authParams, resolvedEnv]'
            ],
            id="no-host",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "protocol": "ftp"},
            {},
            ["metadata.protocol: the protocol has to be either `amqp`, `http`, or `auto` but is `ftp`"],
            id="bad-protocol",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP},
            {"tls": "yes"},
            ["authenticationRef.tls: incorrect value for TLS given: yes"],
            id="bad-tls",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP},
            {"tls": "enable", "cert": "C"},
            ["authenticationRef.cert: both key and certificate must be provided"],
            id="cert-without-key",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP},
            {"key": "K"},
            ["authenticationRef.cert: both key and certificate must be provided"],
            id="key-without-cert",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "pageSize": "0"},
            {},
            ["metadata.pageSize: pageSize should be 1 or greater"],
            id="page-size-0",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "pageSize": "-1"},
            {},
            ["metadata.pageSize: pageSize should be 1 or greater"],
            id="page-size-negative",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "pageSize": "1.5"},
            {},
            ['metadata.pageSize: expected an integer, got "1.5"'],
            id="page-size-not-int",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP},
            {"username": "u"},
            ["authenticationRef.username: username and password must be given together"],
            id="username-alone",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP},
            {"password": "p"},
            ["authenticationRef.username: username and password must be given together"],
            id="password-alone",
        ),
        pytest.param(
            {"queueName": "q", "host": "ftp://rabbit"},
            {},
            ["metadata.host: unknown host URL scheme: `ftp`"],
            id="unknown-scheme",
        ),
        pytest.param(
            {"queueName": "q", "host": "rabbit"},
            {},
            ["metadata.host: unknown host URL scheme: ``"],
            id="no-scheme",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP},
            {"workloadIdentityResource": "api://x"},
            [
                "authenticationRef.workloadIdentityResource: workload identity is not supported for the AMQP protocol at the moment"
            ],
            id="wi-amqp",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP},
            {"clientID": "ebb"},
            [
                "authenticationRef.oauthTokenURI: OAuth2 requires tokenUrl clientId and clientSecret to be configured in TriggerAuthentication"
            ],
            id="oauth2-partial",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP},
            OAUTH,
            [
                "authenticationRef.oauthTokenURI: OAuth2 authentication is only supported with HTTP protocol, not AMQP"
            ],
            id="oauth2-amqp",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP},
            {**OAUTH, "username": "u", "password": "p"},
            [
                "authenticationRef.oauthTokenURI: OAuth2 authentication cannot be combined with username/password "
                "authentication or Azure Workload Identity"
            ],
            id="oauth2-and-basic",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "useRegex": "true"},
            {},
            ["metadata.useRegex: configure useRegex=true only with HTTP protocol"],
            id="regex-amqp",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "excludeUnacknowledged": "true"},
            {},
            ["metadata.excludeUnacknowledged: configure excludeUnacknowledged=true only with HTTP protocol"],
            id="exclude-unacked-amqp",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "queueLength": "10", "mode": "QueueLength"},
            {},
            ["metadata.queueLength: queueLength is deprecated; use mode and value"],
            id="queueLength-and-mode",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "queueLength": "10", "value": "5"},
            {},
            ["metadata.queueLength: queueLength is deprecated; use mode and value"],
            id="queueLength-and-value",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "mode": "QueueLength"},
            {},
            ["metadata.value: value must be specified"],
            id="mode-without-value",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "mode": "QueueLength", "value": "0"},
            {},
            ["metadata.value: value must be specified"],
            id="mode-with-zero-value",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "value": "5"},
            {},
            ["metadata.mode: mode must be specified"],
            id="value-without-mode",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "mode": "Foo", "value": "5"},
            {},
            [f"metadata.mode: {MODES_ERROR}"],
            id="unknown-mode",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "mode": "MessageRate", "value": "5"},
            {},
            ["metadata.mode: protocol amqp not supported; must be HTTP to use trigger mode MessageRate"],
            id="rate-on-amqp",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "mode": "ExpectedQueueConsumptionTime", "value": "5"},
            {},
            [
                "metadata.mode: protocol amqp not supported; must be HTTP to use trigger mode ExpectedQueueConsumptionTime"
            ],
            id="eta-on-amqp",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "mode": "QueueLength", "value": "5", "timeout": "1000"},
            {},
            ["metadata.timeout: AMQP protocol doesn't support custom timeouts"],
            id="amqp-timeout-with-mode",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "protocol": "amqp"},
            {},
            ["metadata.host: AMQP scheme must be either 'amqp://' or 'amqps://'"],
            id="amqp-protocol-http-host",
        ),
        pytest.param(
            {"queueName": "q", "host": AMQP, "mode": "QueueLength", "value": "many"},
            {},
            ['metadata.value: expected a number, got "many"'],
            id="value-not-number",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "timeout": "-5"},
            {},
            ['metadata.timeout: must not be negative, got "-5"'],
            id="negative-timeout",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "useRegex": "yes"},
            {},
            ['metadata.useRegex: expected a boolean (true or false), got "yes"'],
            id="bad-bool",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "pageSize": "0"},
            {"tls": "on"},
            [
                "authenticationRef.tls: incorrect value for TLS given: on",
                "metadata.pageSize: pageSize should be 1 or greater",
            ],
            id="every-problem-in-keda-order",
        ),
    ],
)
def test_accepts_and_rejects_like_keda(
    metadata: dict[str, str], auth: dict[str, str], expected: list[str]
) -> None:
    assert h.problems(metadata, auth) == expected


def test_sources_order_metadata_then_auth_then_env() -> None:
    env = {"RABBIT_URL": "amqp://env-host/"}
    from_env = h.parse({"queueName": "q", "hostFromEnv": "RABBIT_URL"}, env=env)
    assert from_env.host == "amqp://env-host/"
    both = h.parse(
        {"queueName": "q", "host": "amqp://meta/", "hostFromEnv": "RABBIT_URL"}, {"host": "amqp://auth/"}, env
    )
    assert both.host == "amqp://meta/"
    auth_over_env = h.parse({"queueName": "q", "hostFromEnv": "RABBIT_URL"}, {"host": "amqp://auth/"}, env)
    assert auth_over_env.host == "amqp://auth/"


def test_password_from_container_env() -> None:
    parsed = h.parse(
        {"queueName": "q", "host": AMQP, "usernameFromEnv": "U", "passwordFromEnv": "P"},
        env={"U": "app", "P": "pw"},
    )
    assert (parsed.username, parsed.password) == ("app", "pw")


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param(
            {"queueName": "q", "host": HTTP, "operation": "median"},
            [
                "metadata.operation: operation mode median must be one of sum, avg, max "
                "(KEDA fails only when reading regex matches)"
            ],
            id="bad-operation",
        ),
        pytest.param(
            {"queueName": "q", "host": HTTP, "queueLenght": "5"},
            ["metadata.queueLenght: unknown parameter; it is ignored"],
            id="unknown-key",
        ),
    ],
)
def test_warnings(metadata: dict[str, str], expected: list[str]) -> None:
    assert h.warnings(metadata) == expected


def test_oauth2_and_workload_identity_warn_that_ebb_cannot_use_them() -> None:
    assert any("cannot authenticate" in w for w in h.warnings({"queueName": "q", "host": HTTP}, OAUTH))


# --- effective mode, protocol, metric ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "mode", "value"),
    [
        pytest.param({}, rabbitmq_queues.Mode.QUEUE_LENGTH, 20.0, id="default-queue-length-20"),
        pytest.param(
            {"queueLength": "7"}, rabbitmq_queues.Mode.QUEUE_LENGTH, 7.0, id="deprecated-queueLength"
        ),
        pytest.param(
            {"queueLength": "0"}, rabbitmq_queues.Mode.QUEUE_LENGTH, 20.0, id="queueLength-0-is-absent"
        ),
        pytest.param(
            {"mode": "MessageRate", "value": "2.5"}, rabbitmq_queues.Mode.MESSAGE_RATE, 2.5, id="mode-value"
        ),
    ],
)
def test_effective_trigger(metadata: dict[str, str], mode: rabbitmq_queues.Mode, value: float) -> None:
    parsed = h.parse({"queueName": "q", "host": HTTP, **metadata})
    assert parsed.trigger == rabbitmq_queues.Trigger(mode, value)


@pytest.mark.parametrize(
    ("host", "protocol", "expected"),
    [
        pytest.param("amqp://h/", "auto", rabbitmq_queues.WireProtocol.AMQP, id="amqp"),
        pytest.param("amqps://h/", "auto", rabbitmq_queues.WireProtocol.AMQP, id="amqps"),
        pytest.param("http://h/", "auto", rabbitmq_queues.WireProtocol.HTTP, id="http"),
        pytest.param("HTTPS://h/", "auto", rabbitmq_queues.WireProtocol.HTTP, id="https-upper-case"),
        pytest.param("http://h/", "amqp", rabbitmq_queues.WireProtocol.AMQP, id="explicit-wins"),
    ],
)
def test_protocol_from_host_scheme(host: str, protocol: str, expected: rabbitmq_queues.WireProtocol) -> None:
    parsed = rabbitmq_queues.RabbitMQParams(queue_name="q", host=host, protocol=protocol)
    assert parsed.effective_protocol is expected


@pytest.mark.parametrize(
    ("queue", "index", "expected"),
    [
        pytest.param("namespace/name", 1, "s1-rabbitmq-namespace-2Fname", id="slash-escaped-then-normalised"),
        pytest.param("hello", 0, "s0-rabbitmq-hello", id="plain"),
        pytest.param("my queue", 0, "s0-rabbitmq-my+queue", id="space-is-plus"),
        pytest.param("a.b:c", 2, "s2-rabbitmq-a-b-3Ac", id="dot-and-colon"),
        pytest.param("^q-.*$", 0, "s0-rabbitmq--5Eq---2A-24", id="regex"),
        pytest.param("q(1)", 0, "s0-rabbitmq-q-281-29", id="parentheses"),
    ],
)
def test_metric_name(queue: str, index: int, expected: str) -> None:
    trigger = h.inputs({"queueName": queue, "host": HTTP}, index=index)
    parsed = h.parse({"queueName": queue, "host": HTTP})
    assert rabbitmq_queues.metric(parsed, trigger).name == expected


@pytest.mark.parametrize(
    ("metadata", "target", "activation"),
    [
        pytest.param({}, 20.0, 0.0, id="defaults"),
        pytest.param({"queueLength": "12"}, 12.0, 0.0, id="queueLength"),
        pytest.param({"mode": "MessageRate", "value": "0.5", "activationValue": "0.1"}, 0.5, 0.1, id="rate"),
    ],
)
def test_metric_target_and_activation(metadata: dict[str, str], target: float, activation: float) -> None:
    meta = {"queueName": "q", "host": HTTP, **metadata}
    spec = rabbitmq_queues.metric(h.parse(meta), h.inputs(meta))
    assert (spec.target_type, spec.target, spec.activation, spec.source) == (
        "AverageValue",
        target,
        activation,
        base.MetricSource.EXTERNAL,
    )


def test_registered_under_rabbitmq() -> None:
    from scalers import registry

    assert registry.Registry().get("rabbitmq") is rabbitmq_queues.RABBITMQ


# --- the management request and the AMQP target ---------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "auth", "url", "user"),
    [
        pytest.param(
            {"host": "http://guest:pw@h:15672"}, {}, "http://h:15672/api/queues/%2F/q", "guest", id="no-path"
        ),
        pytest.param(
            {"host": "http://h:15672/"}, {}, "http://h:15672/api/queues/%2F/q", None, id="root-path"
        ),
        pytest.param(
            {"host": "http://h:15672/vh"}, {}, "http://h:15672/api/queues/vh/q", None, id="vhost-path"
        ),
        pytest.param(
            {"host": "http://h:15672/%2F"}, {}, "http://h:15672/api/queues/%2F/q", None, id="encoded-root"
        ),
        pytest.param(
            {"host": "https://h/prefix/vh"}, {}, "https://h/prefix/api/queues/vh/q", None, id="base-path"
        ),
        pytest.param(
            {"host": "http://h/vh", "vhostName": "other/x"},
            {},
            "http://h/api/queues/other%2Fx/q",
            None,
            id="vhostName-overrides",
        ),
        pytest.param(
            {"host": "http://a:b@h/"},
            {"username": "u", "password": "p"},
            "http://h/api/queues/%2F/q",
            "u",
            id="auth-credentials-override",
        ),
        pytest.param(
            {"host": "http://h/", "queueName": "ns/name"},
            {},
            "http://h/api/queues/%2F/ns%2Fname",
            None,
            id="queue-escaped",
        ),
        pytest.param(
            {"host": "http://h:15672/", "queueName": "^q.*", "useRegex": "true", "pageSize": "7"},
            {},
            "http://h:15672/api/queues/%2F?page=1&use_regex=true&pagination=false&name=%5Eq.%2A&page_size=7",
            None,
            id="regex-listing",
        ),
    ],
)
def test_management_request(
    metadata: dict[str, str], auth: dict[str, str], url: str, user: str | None
) -> None:
    parsed = h.parse({"queueName": "q", **metadata}, auth)
    request = rabbitmq_queues.management_request(parsed)
    assert (request.url, request.username) == (url, user)
    assert "pw" not in request.url and "@" not in request.url


def test_management_request_shows_masked_credentials() -> None:
    request = rabbitmq_queues.management_request(
        h.parse({"queueName": "q", "host": "http://guest:secret@h:1/"})
    )
    assert request.shown_url == "http://user:password@h:1/api/queues/%2F/q"


@pytest.mark.parametrize(
    ("metadata", "auth", "expected"),
    [
        pytest.param(
            {"host": "amqp://h"},
            {},
            rabbitmq_queues.AmqpTarget(False, "h", 5672, "guest", "guest", "/"),
            id="defaults",
        ),
        pytest.param(
            {"host": "amqps://u:p@h/vh"},
            {},
            rabbitmq_queues.AmqpTarget(True, "h", 5671, "u", "p", "vh"),
            id="amqps-vhost",
        ),
        pytest.param(
            {"host": "amqp://u:p%40ss@h:1234/%2F"},
            {},
            rabbitmq_queues.AmqpTarget(False, "h", 1234, "u", "p@ss", "/"),
            id="encoded",
        ),
        pytest.param(
            {"host": "amqp://u:p@h/vh", "vhostName": "other"},
            {"username": "a", "password": "b"},
            rabbitmq_queues.AmqpTarget(False, "h", 5672, "a", "b", "other"),
            id="overrides",
        ),
    ],
)
def test_amqp_target(
    metadata: dict[str, str], auth: dict[str, str], expected: rabbitmq_queues.AmqpTarget
) -> None:
    assert rabbitmq_queues.amqp_target(h.parse({"queueName": "q", **metadata}, auth)) == expected
