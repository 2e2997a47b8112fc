"""The APIService `v1beta1.external.metrics.k8s.io`: keep its caBundle matching the serving certificate,
and say clearly when another server owns it.

Only one APIService per group/version can exist in a cluster, so installing Ebb's replaces KEDA's,
Datadog's or prometheus-adapter's (and theirs replaces Ebb's). `check` never takes it over: when the
APIService points at Ebb's Service it updates `caBundle` (dropping `insecureSkipTLSVerify`) if the
certificate changed, as KEDA's cert rotation does; when it points elsewhere it returns a warning that
names the owner and the way out (direct mode, where no HPA reads external metrics).
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any, Protocol

from metrics_adapter import answers


class ApiServiceApi(Protocol):
    async def get_api_service(self, name: str) -> dict[str, Any] | None: ...

    async def replace_api_service(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...


@dataclasses.dataclass(frozen=True)
class Outcome:
    updated: bool
    warning: str | None
    note: str


def conflict_message(service: dict[str, Any], ours: tuple[str, str]) -> str:
    owner = f"{service.get('namespace')}/{service.get('name')}"
    return (
        f"APIService {answers.API_SERVICE_NAME} is served by Service {owner}, not Ebb's {ours[0]}/{ours[1]}: another "
        "external metrics server (KEDA, Datadog, prometheus-adapter, …) owns it, and a cluster can have only one. "
        "HPAs will read that server's metrics, not Ebb's. Either remove the other server's APIService, or run "
        "Ebb in direct mode (`ebb operator --scaling-mode direct`), which scales 1↔N itself and needs no "
        "external metrics API."
    )


async def check(api: ApiServiceApi, *, ca_pem: bytes | None, service: tuple[str, str]) -> Outcome:
    """`service` is Ebb's (namespace, name). `ca_pem` is the CA of the serving certificate when Ebb made it."""
    body = await api.get_api_service(answers.API_SERVICE_NAME)
    if body is None:
        return Outcome(False, None, f"APIService {answers.API_SERVICE_NAME} does not exist: HPAs cannot reach this adapter")
    spec = dict(body.get("spec") or {})
    target = spec.get("service") or {}
    if (target.get("namespace"), target.get("name")) != service:
        return Outcome(False, conflict_message(target, service), "another server owns the APIService")
    if ca_pem is None:
        return Outcome(False, None, "serving certificate given by flags: caBundle left as it is")
    wanted = base64.b64encode(ca_pem).decode()
    if spec.get("caBundle") == wanted and not spec.get("insecureSkipTLSVerify"):
        return Outcome(False, None, "caBundle is current")
    spec["caBundle"] = wanted
    spec.pop("insecureSkipTLSVerify", None)
    await api.replace_api_service(answers.API_SERVICE_NAME, {**body, "spec": spec})
    return Outcome(True, None, "caBundle updated to the generated serving certificate's CA")
