"""The `kafka` trigger's parameters: KEDA's accept/reject rules and cross-field checks, partitionLimitation
syntax, the metric name and target. No broker needed."""

from __future__ import annotations

import kafka_helpers as h
import pytest

from scalers import kafka_lag, registry

BASE = {"bootstrapServers": "b1:9092,b2:9092", "consumerGroup": "g", "topic": "t"}
NO_TOPIC = {"bootstrapServers": "b1:9092", "consumerGroup": "g"}
USER = {"username": "app", "password": "pw"}


@pytest.mark.parametrize(
    ("metadata", "auth", "expected"),
    [
        pytest.param(BASE, {}, [], id="minimal"),
        pytest.param(NO_TOPIC, {}, [], id="no-topic"),
        pytest.param(
            {**BASE, "lagThreshold": "1", "activationLagThreshold": "0"}, {}, [], id="smallest-thresholds"
        ),
        pytest.param({**BASE, "offsetResetPolicy": "earliest"}, {}, [], id="earliest"),
        pytest.param({**BASE, "partitionLimitation": "1,2,10-20"}, {}, [], id="partition-limitation"),
        pytest.param(
            {**BASE, "partitionLimitation": "5-1"}, {}, [], id="reversed-range-is-empty-not-an-error"
        ),
        pytest.param(
            {**NO_TOPIC, "partitionLimitation": "not-a-list"}, {}, [], id="limitation-ignored-without-topic"
        ),
        pytest.param({**BASE, "partitionLimitation": "   "}, {}, [], id="whitespace-limitation-is-none"),
        pytest.param(
            {**BASE, "allowIdleConsumers": "true", "scaleToZeroOnInvalidOffset": "true"},
            {},
            [],
            id="idle-and-scale-to-zero",
        ),
        pytest.param({**BASE, "limitToPartitionsWithLag": "true"}, {}, [], id="limit-with-topic"),
        pytest.param({**BASE, "ensureEvenDistributionOfPartitions": "true"}, {}, [], id="even-with-topic"),
        pytest.param(
            {**BASE, "ensureEvenDistributionOfPartitions": "true", "allowIdleConsumers": "true"},
            {},
            [],
            id="even-and-idle",
        ),
        pytest.param({**BASE, "fullMetadata": "false"}, {}, [], id="partial-metadata-with-topic"),
        pytest.param({**BASE, "excludePersistentLag": "true"}, {}, [], id="exclude-persistent"),
        pytest.param({**BASE, "version": "2.8.1"}, {}, [], id="version"),
        pytest.param({**BASE, "version": "0.10.2.0"}, {}, [], id="old-version"),
        pytest.param(BASE, {"sasl": "plaintext", **USER}, [], id="sasl-plaintext-from-auth"),
        pytest.param({**BASE, "sasl": "scram_sha512"}, USER, [], id="sasl-scram-from-metadata"),
        pytest.param({**BASE, "sasl": "none"}, {}, [], id="sasl-none"),
        pytest.param(
            BASE, {"tls": "enable", "cert": "C", "key": "K", "keyPassword": "x"}, [], id="tls-client-cert"
        ),
        pytest.param({**BASE, "tls": "enable"}, {"ca": "CA"}, [], id="tls-ca-only"),
        pytest.param({**BASE, "tls": "disable"}, {"cert": "C"}, [], id="cert-alone-ignored-without-tls"),
        pytest.param(
            BASE,
            {"sasl": "oauthbearer", **USER, "oauthTokenEndpointUri": "https://idp/token"},
            [],
            id="oauthbearer",
        ),
        pytest.param(
            BASE,
            {"sasl": "gssapi", "username": "u", "password": "p", "realm": "R", "kerberosConfig": "K"},
            [],
            id="gssapi",
        ),
        pytest.param(
            {**BASE, "awsRegion": "eu-west-1", "tls": "enable", "saslTokenProvider": "aws_msk_iam"},
            {"sasl": "oauthbearer"},
            [],
            id="aws-msk-iam",
        ),
        # --- rejections ---
        pytest.param(
            {"consumerGroup": "g"},
            {},
            [
                'metadata.bootstrapServers: missing required parameter "bootstrapServers" in [triggerMetadata, resolvedEnv]'
            ],
            id="no-bootstrap",
        ),
        pytest.param(
            {"bootstrapServers": "b:1"},
            {},
            [
                'metadata.consumerGroup: missing required parameter "consumerGroup" in [triggerMetadata, resolvedEnv]'
            ],
            id="no-group",
        ),
        pytest.param(
            {**BASE, "lagThreshold": "0"},
            {},
            ["metadata.lagThreshold: must be at least 1, got 0"],
            id="lag-threshold-zero",
        ),
        pytest.param(
            {**BASE, "lagThreshold": "-3"},
            {},
            ["metadata.lagThreshold: must be at least 1, got -3"],
            id="lag-threshold-negative",
        ),
        pytest.param(
            {**BASE, "lagThreshold": "1.5"},
            {},
            ['metadata.lagThreshold: expected an integer, got "1.5"'],
            id="lag-threshold-not-int",
        ),
        pytest.param(
            {**BASE, "activationLagThreshold": "-1"},
            {},
            ["metadata.activationLagThreshold: must be at least 0, got -1"],
            id="activation-negative",
        ),
        pytest.param(
            {**BASE, "offsetResetPolicy": "smallest"},
            {},
            ['metadata.offsetResetPolicy: must be one of latest, earliest, got "smallest"'],
            id="bad-policy",
        ),
        pytest.param(
            {**BASE, "allowIdleConsumers": "true", "limitToPartitionsWithLag": "true"},
            {},
            [
                "metadata.limitToPartitionsWithLag: allowIdleConsumers and limitToPartitionsWithLag cannot be set simultaneously"
            ],
            id="idle-and-limit",
        ),
        pytest.param(
            {**NO_TOPIC, "limitToPartitionsWithLag": "true"},
            {},
            [
                "metadata.limitToPartitionsWithLag: topic must be specified when using limitToPartitionsWithLag"
            ],
            id="limit-without-topic",
        ),
        pytest.param(
            {**BASE, "limitToPartitionsWithLag": "true", "ensureEvenDistributionOfPartitions": "true"},
            {},
            [
                "metadata.ensureEvenDistributionOfPartitions: limitToPartitionsWithLag and "
                "ensureEvenDistributionOfPartitions cannot be set simultaneously"
            ],
            id="limit-and-even",
        ),
        pytest.param(
            {**NO_TOPIC, "ensureEvenDistributionOfPartitions": "true"},
            {},
            [
                "metadata.ensureEvenDistributionOfPartitions: topic must be specified when using "
                "ensureEvenDistributionOfPartitions"
            ],
            id="even-without-topic",
        ),
        pytest.param(
            {**NO_TOPIC, "fullMetadata": "false"},
            {},
            ["metadata.fullMetadata: topic must be specified when fullMetadata is false"],
            id="partial-metadata-no-topic",
        ),
        pytest.param(
            {**BASE, "partitionLimitation": "1,a"},
            {},
            [
                "metadata.partitionLimitation: error parsing in partitionLimitation '1,a': parse error for 'a': invalid syntax"
            ],
            id="limitation-not-a-number",
        ),
        pytest.param(
            {**BASE, "partitionLimitation": "1-2-3"},
            {},
            [
                "metadata.partitionLimitation: error parsing in partitionLimitation '1-2-3': error in range syntax, got '1-2-3'"
            ],
            id="limitation-bad-range",
        ),
        pytest.param(
            {**BASE, "partitionLimitation": "1, 2"},
            {},
            [
                "metadata.partitionLimitation: error parsing in partitionLimitation '1, 2': parse error for ' 2': invalid syntax"
            ],
            id="limitation-terms-not-trimmed-as-keda",
        ),
        pytest.param(
            {**BASE, "partitionLimitation": "1,,2"},
            {},
            [
                "metadata.partitionLimitation: error parsing in partitionLimitation '1,,2': parse error for '': invalid syntax"
            ],
            id="limitation-empty-term",
        ),
        pytest.param(
            {**BASE, "sasl": "kerberos"},
            {},
            [
                'metadata.sasl: must be one of none, plaintext, scram_sha256, scram_sha512, oauthbearer, gssapi, got "kerberos"'
            ],
            id="bad-sasl",
        ),
        pytest.param(
            BASE,
            {"sasl": "plaintext"},
            ["authenticationRef.username: no username given"],
            id="plaintext-no-user",
        ),
        pytest.param(
            BASE,
            {"sasl": "scram_sha256", "username": "u"},
            ["authenticationRef.password: no password given"],
            id="scram-no-password",
        ),
        pytest.param(
            {**BASE, "sasl": "scram_sha512"},
            {"password": "p"},
            ["authenticationRef.username: no username given"],
            id="scram-no-user",
        ),
        pytest.param(
            BASE,
            {"tls": "enable", "cert": "C"},
            ["authenticationRef.key: key must be provided with cert"],
            id="cert-without-key",
        ),
        pytest.param(
            BASE,
            {"tls": "enable", "key": "K"},
            ["authenticationRef.cert: cert must be provided with key"],
            id="key-without-cert",
        ),
        pytest.param(
            {**BASE, "tls": "true"},
            {},
            ['metadata.tls: must be one of enable, disable, got "true"'],
            id="bad-tls",
        ),
        pytest.param(
            BASE,
            {"sasl": "oauthbearer", **USER},
            ["authenticationRef.oauthTokenEndpointUri: no oauth token endpoint uri given"],
            id="oauthbearer-no-uri",
        ),
        pytest.param(
            {**BASE, "saslTokenProvider": "aws_msk_iam"},
            {"sasl": "oauthbearer"},
            ["metadata.tls: TLS is required for AWS MSK authentication"],
            id="msk-without-tls",
        ),
        pytest.param(
            {**BASE, "saslTokenProvider": "aws_msk_iam", "tls": "enable"},
            {"sasl": "oauthbearer"},
            ["metadata.awsRegion: no awsRegion given"],
            id="msk-without-region",
        ),
        pytest.param(
            BASE,
            {"sasl": "gssapi", "username": "u", "password": "p", "keytab": "k"},
            [
                "authenticationRef.password: exactly one of 'password' or 'keytab' must be provided for GSSAPI authentication"
            ],
            id="gssapi-password-and-keytab",
        ),
        pytest.param(
            BASE,
            {"sasl": "gssapi", "username": "u", "keytab": "k"},
            ["authenticationRef.realm: no realm given"],
            id="gssapi-no-realm",
        ),
        pytest.param(
            {**BASE, "version": "1.0"},
            {},
            ["metadata.version: error parsing kafka version: invalid version `1.0`"],
            id="bad-version",
        ),
        pytest.param(
            {**NO_TOPIC, "limitToPartitionsWithLag": "true", "allowIdleConsumers": "true"},
            {},
            [
                "metadata.limitToPartitionsWithLag: allowIdleConsumers and limitToPartitionsWithLag cannot be set simultaneously",
                "metadata.limitToPartitionsWithLag: topic must be specified when using limitToPartitionsWithLag",
            ],
            id="every-problem-reported",
        ),
    ],
)
def test_accepts_and_rejects_like_keda(
    metadata: dict[str, str], auth: dict[str, str], expected: list[str]
) -> None:
    assert h.problems(metadata, auth) == expected


def test_defaults() -> None:
    parsed = h.parse(BASE)
    assert (parsed.lag_threshold, parsed.activation_lag_threshold, parsed.offset_reset_policy) == (
        10,
        0,
        "latest",
    )
    assert not any(
        (
            parsed.allow_idle_consumers,
            parsed.exclude_persistent_lag,
            parsed.scale_to_zero_on_invalid_offset,
            parsed.limit_to_partitions_with_lag,
            parsed.ensure_even_distribution_of_partitions,
        )
    )
    assert (
        parsed.full_metadata
        and parsed.version == "1.0.0"
        and parsed.sasl == "none"
        and parsed.tls == "disable"
    )
    assert list(parsed.bootstrap_servers) == ["b1:9092", "b2:9092"]


def test_bootstrap_group_and_topic_from_env() -> None:
    env = {"BROKERS": "k1:9092,k2:9092", "GROUP": "workers", "TOPIC": "jobs"}
    parsed = h.parse(
        {"bootstrapServersFromEnv": "BROKERS", "consumerGroupFromEnv": "GROUP", "topicFromEnv": "TOPIC"},
        env=env,
    )
    assert (list(parsed.bootstrap_servers), parsed.consumer_group, parsed.topic) == (
        ["k1:9092", "k2:9092"],
        "workers",
        "jobs",
    )


def test_tls_in_metadata_wins_over_auth() -> None:
    assert h.parse({**BASE, "tls": "disable"}, {"tls": "enable"}).tls == "disable"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        pytest.param("1,2,10-12", [1, 2, 10, 11, 12], id="list-and-range"),
        pytest.param("3", [3], id="one"),
        pytest.param("+4", [4], id="go-accepts-a-sign"),
        pytest.param("5-5", [5], id="single-range"),
        pytest.param("5-1", [], id="reversed"),
    ],
)
def test_partition_limitation_syntax(pattern: str, expected: list[int]) -> None:
    assert kafka_lag.parse_partition_limitation(pattern) == expected


@pytest.mark.parametrize(
    ("metadata", "kept"),
    [
        pytest.param({**BASE, "partitionLimitation": "0,2"}, frozenset({0, 2}), id="kept"),
        pytest.param({**NO_TOPIC, "partitionLimitation": "0,2"}, None, id="ignored-without-topic"),
        pytest.param(BASE, None, id="none"),
    ],
)
def test_partitions_kept(metadata: dict[str, str], kept: frozenset[int] | None) -> None:
    assert h.parse(metadata).partitions_kept == kept


def test_unsupported_sasl_warns() -> None:
    found = h.warnings(
        BASE, {"sasl": "gssapi", "username": "u", "password": "p", "realm": "R", "kerberosConfig": "K"}
    )
    assert found == [
        "metadata.sasl: sasl=gssapi is accepted for KEDA compatibility but Ebb cannot connect with it yet; "
        "reading this trigger will fail"
    ]


@pytest.mark.parametrize(
    ("metadata", "index", "name", "target", "activation"),
    [
        pytest.param({**BASE, "topic": "my-topic"}, 0, "s0-kafka-my-topic", 10.0, 0.0, id="topic"),
        pytest.param(
            {**BASE, "topic": "my.topic:v1"}, 1, "s1-kafka-my-topic-v1", 10.0, 0.0, id="topic-normalised"
        ),
        pytest.param(
            {**NO_TOPIC, "consumerGroup": "my-group"}, 2, "s2-kafka-my-group-topics", 10.0, 0.0, id="no-topic"
        ),
        pytest.param(
            {**BASE, "lagThreshold": "50", "activationLagThreshold": "7"},
            0,
            "s0-kafka-t",
            50.0,
            7.0,
            id="thresholds",
        ),
    ],
)
def test_metric(metadata: dict[str, str], index: int, name: str, target: float, activation: float) -> None:
    spec = kafka_lag.metric(h.parse(metadata), h.inputs(metadata, index=index))
    assert (spec.name, spec.target_type, spec.target, spec.activation) == (
        name,
        "AverageValue",
        target,
        activation,
    )


def test_registered_under_kafka() -> None:
    assert registry.Registry().get("kafka") is kafka_lag.KAFKA
