"""What the sandbox's aggregation layer adds to a request: the same external-metrics GET sent straight to a TLS
aggregated server and through the sandbox (authentication, RBAC, proxy over TLS with the front-proxy certificate).

The aggregated server is a minimal aiohttp server over TLS that answers one ExternalMetricValueList; requests
are sequential over one keep-alive connection each way, so the figures are latencies, not throughput. Run:

    .venv/bin/python bench/sandbox_aggregation.py [--requests 2000] [--rbac]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import ssl
import statistics
import time

import aiohttp
import trustme
import yarl
from aiohttp import web

from kube_sandbox import testing

PATH = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/s0-queue?labelSelector=scaledobject.keda.sh%2Fname%3Dw"
BODY = {"kind": "ExternalMetricValueList", "apiVersion": "external.metrics.k8s.io/v1beta1", "metadata": {},
        "items": [{"metricName": "s0-queue", "metricLabels": None, "timestamp": "2026-01-01T00:00:00Z", "value": "7"}]}


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()} ({platform.system()})"


async def serve(ca: trustme.CA, front_proxy_ca_pem: str) -> tuple[web.AppRunner, int]:
    async def handle(request: web.Request) -> web.Response:
        if not request.transport or not request.transport.get_extra_info("peercert"):
            return web.json_response({"kind": "Status", "code": 401}, status=401)
        return web.json_response(BODY)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("metrics.default.svc", "127.0.0.1").configure_cert(context)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cadata=front_proxy_ca_pem)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    server = site._server
    assert server is not None
    return runner, server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]


async def timed(session: aiohttp.ClientSession, url: yarl.URL, n: int, **kw: object) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        async with session.get(url, **kw) as reply:  # type: ignore[arg-type]
            await reply.read()
            assert reply.status == 200, reply.status
        out.append((time.perf_counter() - started) * 1000)
    return out


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{name:<34} p50 {statistics.median(ordered):6.2f} ms   p99 {p99:6.2f} ms"


async def main(requests: int, rbac: bool) -> None:
    ca = trustme.CA()
    with testing.Sandbox(rbac=rbac, kubelet_enabled=False, aggregation_recheck=1.0) as sandbox:
        runner, port = await serve(ca, sandbox.front_proxy_ca_pem())
        try:
            token = sandbox.admin_token
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as kube:
                for obj in testing.apiservice_manifests("external.metrics.k8s.io", "v1beta1", namespace="default",
                                                        service="metrics", port=port,
                                                        ca_bundle_pem=ca.cert_pem.bytes().decode()):
                    plural = {"Service": "/api/v1/namespaces/default/services",
                              "Endpoints": "/api/v1/namespaces/default/endpoints",
                              "APIService": "/apis/apiregistration.k8s.io/v1/apiservices"}[obj["kind"]]
                    async with kube.post(sandbox.base_url + plural, json=obj) as reply:
                        assert reply.status == 201, await reply.text()
                for _ in range(100):
                    async with kube.get(sandbox.base_url + "/apis/apiregistration.k8s.io/v1/apiservices/"
                                        "v1beta1.external.metrics.k8s.io") as reply:
                        conditions = (await reply.json()).get("status", {}).get("conditions", [])
                    if any(c["status"] == "True" for c in conditions):
                        break
                    await asyncio.sleep(0.1)
                url = yarl_url(sandbox.base_url + PATH)
                through = await timed(kube, url, requests)
            direct_context = ssl.create_default_context(cadata=ca.cert_pem.bytes().decode())
            sandbox.server.authority.front_proxy_client.configure_cert(direct_context)
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=direct_context)) as direct:
                straight = await timed(direct, yarl_url(f"https://127.0.0.1:{port}{PATH}"), requests,
                                       server_hostname="metrics.default.svc")
        finally:
            await runner.cleanup()
    print(f"machine: {machine()}")
    print(f"{requests} sequential GETs of one external metric, RBAC {'on' if rbac else 'off'}")
    print(summary("straight to the aggregated server", straight))
    print(summary("through the sandbox", through))
    print(f"added by the sandbox: p50 {statistics.median(through) - statistics.median(straight):.2f} ms")


def yarl_url(text: str) -> yarl.URL:
    return yarl.URL(text, encoded=True)  # the query exactly as written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rbac", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rbac))
