"""The APIService `v1beta1.external.metrics.k8s.io`: keep its caBundle matching the serving certificate,
and say clearly when another server owns it.

Only one APIService per group/version can exist in a cluster, so installing Ebb's replaces KEDA's,
Datadog's or prometheus-adapter's (and theirs replaces Ebb's). `check` never takes it over. The APIService
is Ebb's when it carries the label `app.kubernetes.io/part-of: ebb` (the chart's) or names Ebb's Service.
Then, given the CA of a serving certificate the adapter generated, `caBundle` is updated (dropping
`insecureSkipTLSVerify`) when it differs, as KEDA's cert rotation does. Otherwise the outcome carries a
warning naming the owner and the way out (direct mode, where no HPA reads external metrics). Both
`ebb operator` (at the start of each leadership, HPA mode by default) and `ebb adapter` (at start) check.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any, Protocol

GROUP = "external.metrics.k8s.io"
NAME = f"v1beta1.{GROUP}"
PART_OF_LABEL = "app.kubernetes.io/part-of"
DEFAULT_SERVICE = "ebb-metrics-apiserver"


class ApiServiceApi(Protocol):
    async def get_api_service(self, name: str) -> dict[str, Any] | None: ...

    async def replace_api_service(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...


@dataclasses.dataclass(frozen=True)
class Outcome:
    updated: bool
    warning: str | None
    note: str


def conflict_message(service: dict[str, Any]) -> str:
    owner = f"{service.get('namespace')}/{service.get('name')}"
    return (
        f"APIService {NAME} is served by Service {owner}, which is not Ebb's adapter: another "
        "external metrics server (KEDA, Datadog, prometheus-adapter, …) owns it, and a cluster can have only one. "
        "HPAs will read that server's metrics, not Ebb's. Either remove the other server's APIService, or run "
        "Ebb in direct mode (`ebb operator --scaling-mode direct`), which scales 1↔N itself and needs no "
        "external metrics API."
    )


async def check(api: ApiServiceApi, *, ca_pem: bytes | None, service: tuple[str, str] | None) -> Outcome:
    """`service` is Ebb's (namespace, name) when known. `ca_pem` is the CA of the serving certificate when
    the adapter made it (None: leave caBundle alone)."""
    body = await api.get_api_service(NAME)
    if body is None:
        return Outcome(False, None, f"APIService {NAME} does not exist: HPAs cannot reach this adapter")
    spec = dict(body.get("spec") or {})
    target = spec.get("service") or {}
    labels = (body.get("metadata") or {}).get("labels") or {}
    ours = labels.get(PART_OF_LABEL) == "ebb" or (
        service is not None and (target.get("namespace"), target.get("name")) == service
    )
    if not ours:
        return Outcome(False, conflict_message(target), "another server owns the APIService")
    if ca_pem is None:
        return Outcome(False, None, "serving certificate given by flags: caBundle left as it is")
    wanted = base64.b64encode(ca_pem).decode()
    if spec.get("caBundle") == wanted and not spec.get("insecureSkipTLSVerify"):
        return Outcome(False, None, "caBundle is current")
    spec["caBundle"] = wanted
    spec.pop("insecureSkipTLSVerify", None)
    await api.replace_api_service(NAME, {**body, "spec": spec})
    return Outcome(True, None, "caBundle updated to the generated serving certificate's CA")
