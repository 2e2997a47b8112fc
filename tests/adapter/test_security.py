"""Who may read metrics: the adapter over real HTTPS against the sandbox's TokenReview and
SubjectAccessReview, with certificates made per test and published in the cluster's
extension-apiserver-authentication ConfigMap. No operator runs here, so a request that passes
authentication and authorization ends at 503 (no readings advertised) — distinct from 401 and 403."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from kube_sandbox import reviews, testing
from metrics_adapter import answers
from tests.adapter.conftest import Pki

METRIC = "s0-redis-jobs"
SELECTOR = {"labelSelector": f"{answers.SCALED_OBJECT_LABEL}=orders"}
METRIC_PATH = answers.metric_path("default", METRIC)


def configure(sandbox: testing.Sandbox) -> None:
    sandbox.reviews.add_token("t-bob", reviews.User("bob", groups=("team",)))
    sandbox.reviews.set_rules(
        [reviews.AccessRule(allowed=True, user="bob", verb="list", resource=METRIC, api_group=answers.GROUP,
                            namespace="default")],
        default_allowed=False,
    )


def unauthorized() -> dict[str, Any]:
    return answers.status(401, answers.Reason.UNAUTHORIZED, "Unauthorized")


CASES = [
    # (case, certificate attribute of Pki or None, headers, expected code, expected user in a 403)
    ("no credentials", None, {}, 401, None),
    ("forged identity headers without a certificate", None,
     {"X-Remote-User": "admin", "X-Remote-Group": "system:masters"}, 401, None),
    ("identity headers behind a client certificate that is no front proxy", "alice",
     {"X-Remote-User": "admin", "X-Remote-Group": "system:masters"}, 403, "alice"),
    ("front proxy with an allowed CN: the headers are the user", "front_proxy",
     {"X-Remote-User": "carol", "X-Remote-Group": "system:masters"}, 503, None),
    ("front proxy with an allowed CN, a user the SAR denies", "front_proxy", {"X-Remote-User": "carol"}, 403, "carol"),
    ("front proxy certificate whose CN is not allowed", "intruder_proxy",
     {"X-Remote-User": "admin", "X-Remote-Group": "system:masters"}, 401, None),
    ("client certificate in system:masters", "masters", {}, 503, None),
    ("client certificate the SAR denies", "alice", {}, 403, "alice"),
    ("bearer token the TokenReview knows, allowed by the SAR", None, {"Authorization": "Bearer t-bob"}, 503, None),
    ("bearer token the TokenReview rejects", None, {"Authorization": "Bearer wrong"}, 401, None),
]


@pytest.mark.parametrize(("case", "cert", "headers", "code", "user"), CASES, ids=[c[0] for c in CASES])
async def test_who_may_read_a_metric(
    sandbox: testing.Sandbox, published_pki: Pki, start_adapter: Any,
    case: str, cert: str | None, headers: dict[str, str], code: int, user: str | None,
) -> None:
    configure(sandbox)
    adapter = await start_adapter()
    status, body = await adapter.get(
        METRIC_PATH, cert=getattr(published_pki, cert) if cert else None, headers=headers, params=SELECTOR
    )
    assert status == code, (case, body)
    if code == 401:
        assert body == unauthorized()
    elif code == 403:
        assert body == answers.status(
            403, answers.Reason.FORBIDDEN,
            f'{METRIC}.{answers.GROUP} is forbidden: User "{user}" cannot list resource "{METRIC}" in API group '
            f'"{answers.GROUP}" in the namespace "default"',
        )
    else:
        assert body["kind"] == "Status" and body["code"] == 503 and body["reason"] == "ServiceUnavailable"
        assert "no operator advertises its readings" in body["message"]


async def test_health_needs_no_credentials_and_discovery_any_authenticated_caller(
    sandbox: testing.Sandbox, published_pki: Pki, start_adapter: Any
) -> None:
    configure(sandbox)
    adapter = await start_adapter()
    for path in ("/healthz", "/livez"):
        assert await adapter.get(path) == (200, "ok")
    assert (await adapter.get(f"/apis/{answers.GROUP_VERSION}"))[0] == 401
    status, body = await adapter.get(f"/apis/{answers.GROUP_VERSION}", cert=published_pki.alice)
    assert status == 200
    assert body["groupVersion"] == answers.GROUP_VERSION
    assert [r["name"] for r in body["resources"]] == [answers.PLACEHOLDER_RESOURCE]  # never empty
    status, body = await adapter.get("/apis", cert=published_pki.alice)
    assert body["groups"][0]["preferredVersion"] == {"groupVersion": answers.GROUP_VERSION, "version": "v1beta1"}
    status, body = await adapter.get("/openapi/v2", cert=published_pki.alice)
    assert status == 200 and body["swagger"] == "2.0"
    status, body = await adapter.get(f"/openapi/v3/apis/{answers.GROUP_VERSION}", cert=published_pki.alice)
    assert status == 200 and body["openapi"].startswith("3.")
    # /readyz says it cannot answer: no operator advertises readings.
    status, text = await adapter.get("/readyz")
    assert status == 500 and "no operator advertises its readings" in text


async def test_a_certificate_from_an_unknown_ca_is_refused_at_the_handshake(
    published_pki: Pki, start_adapter: Any
) -> None:
    adapter = await start_adapter()
    with pytest.raises(aiohttp.ClientError):
        await adapter.get(METRIC_PATH, cert=published_pki.stranger, params=SELECTOR)


async def test_subject_access_reviews_are_cached_for_ten_seconds(
    sandbox: testing.Sandbox, published_pki: Pki, start_adapter: Any
) -> None:
    configure(sandbox)
    adapter = await start_adapter()
    token = {"Authorization": "Bearer t-bob"}
    assert (await adapter.get(METRIC_PATH, headers=token, params=SELECTOR))[0] == 503
    # The cluster now denies bob; within 10 s the adapter still answers from the cached review.
    sandbox.reviews.set_rules([], default_allowed=False)
    for _ in range(5):
        assert (await adapter.get(METRIC_PATH, headers=token, params=SELECTOR))[0] == 503
    assert adapter.runner.adapter is not None
    assert adapter.runner.adapter.authorizer.reviews == 1
    assert adapter.runner.adapter.authenticator.token_reviews == 1
    # A different request (another metric) is a new review, answered by the new rules.
    status, _ = await adapter.get(answers.metric_path("default", "s1-other"), headers=token, params=SELECTOR)
    assert status == 403
