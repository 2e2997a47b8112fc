"""The official `kubernetes` client, sync (`kubernetes.client`) and asyncio (`kubernetes.aio`), against the
sandbox: create (201), read, list with selectors, scale, patch, replace with a stale version, delete, watch."""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client import exceptions as k8s_exceptions

from kube_sandbox import testing
from tests.sandbox import objects, rawhttp


@pytest.fixture
def api_client(kubeconfig: pathlib.Path) -> Iterator[k8s.ApiClient]:
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    with k8s.ApiClient(configuration) as api_client:
        yield api_client


def test_sync_client_deployment_lifecycle_and_scale(api_client: k8s.ApiClient) -> None:
    apps = k8s.AppsV1Api(api_client)
    created = apps.create_namespaced_deployment("default", objects.deployment("web", replicas=1))
    assert created is not None  # the generated client returns None unless the answer is 201
    assert created.metadata.uid
    scale = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3

    def ready() -> bool:
        return apps.read_namespaced_deployment("web", "default").status.ready_replicas == 3
    rawhttp.eventually(ready)
    pods = k8s.CoreV1Api(api_client).list_namespaced_pod("default", label_selector="app=web")
    assert len(pods.items) == 3
    assert {p.status.phase for p in pods.items} == {"Running"}
    current = apps.read_namespaced_deployment_scale("web", "default")
    current.spec.replicas = 2
    assert apps.replace_namespaced_deployment_scale("web", "default", current).spec.replicas == 2
    current.spec.replicas = 5
    with pytest.raises(k8s_exceptions.ApiException) as stale:
        apps.replace_namespaced_deployment_scale("web", "default", current)
    assert stale.value.status == 409
    status = apps.delete_namespaced_deployment("web", "default")
    assert status["status"] == "Success"  # kubernetes 37 types delete answers as plain objects
    rawhttp.eventually(lambda: not k8s.CoreV1Api(api_client).list_namespaced_pod("default").items)


def test_sync_client_custom_objects_and_status(api_client: k8s.ApiClient) -> None:
    ext = k8s.ApiextensionsV1Api(api_client)
    ext.create_custom_resource_definition(objects.widget_crd())
    custom = k8s.CustomObjectsApi(api_client)
    created = custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", objects.widget("w"))
    assert created["spec"]["replicas"] == 1  # defaulted by the schema
    patched = custom.patch_namespaced_custom_object_status("example.com", "v1", "default", "widgets", "w",
                                                           {"status": {"replicas": 1, "selector": "app=w"}})
    assert patched["status"] == {"replicas": 1, "selector": "app=w"}
    scale = custom.patch_namespaced_custom_object_scale("example.com", "v1", "default", "widgets", "w",
                                                        {"spec": {"replicas": 4}})
    assert scale["spec"]["replicas"] == 4
    with pytest.raises(k8s_exceptions.ApiException) as invalid:
        custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", objects.widget("bad", "green"))
    assert invalid.value.status == 422
    listed = custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w"]
    custom.delete_namespaced_custom_object("example.com", "v1", "default", "widgets", "w")
    with pytest.raises(k8s_exceptions.ApiException) as missing:
        custom.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "w")
    assert missing.value.status == 404


def test_sync_client_watch_streams_events(api_client: k8s.ApiClient) -> None:
    core = k8s.CoreV1Api(api_client)
    core.create_namespaced_config_map("default", objects.configmap("first"))
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    seen: list[tuple[str, str]] = []

    def consume() -> None:
        watcher = k8s_watch.Watch()
        for event in watcher.stream(core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=3):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 2:
                watcher.stop()

    reader = threading.Thread(target=consume)
    reader.start()
    rawhttp.eventually(lambda: rawhttp.Api(core.api_client.configuration.host).get("/sandbox/stats").body["watchers"] == 1)
    core.create_namespaced_config_map("default", objects.configmap("second"))
    core.patch_namespaced_config_map("first", "default", {"data": {"k": "v"}})
    reader.join(10)
    assert seen == [("ADDED", "second"), ("MODIFIED", "first")]


def test_sync_client_lease_replace_is_optimistic(api_client: k8s.ApiClient) -> None:
    coordination = k8s.CoordinationV1Api(api_client)
    lease = coordination.create_namespaced_lease("default", {"metadata": {"name": "leader"},
                                                             "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}})
    lease.spec.holder_identity = "b"
    renewed = coordination.replace_namespaced_lease("leader", "default", lease)
    assert renewed.spec.holder_identity == "b"
    lease.spec.holder_identity = "c"
    with pytest.raises(k8s_exceptions.ApiException) as conflict:
        coordination.replace_namespaced_lease("leader", "default", lease)
    assert conflict.value.status == 409


async def test_aio_client_create_scale_and_watch(sandbox: testing.Sandbox, kubeconfig: pathlib.Path) -> None:
    from kubernetes.aio import client as aio_client
    from kubernetes.aio import config as aio_config
    from kubernetes.aio import watch as aio_watch

    configuration = aio_client.Configuration()
    await aio_config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    async with aio_client.ApiClient(configuration) as api_client:
        apps = aio_client.AppsV1Api(api_client)
        created = await apps.create_namespaced_deployment("default", objects.deployment("web", replicas=1))
        assert created is not None and created.metadata.name == "web"
        scale = await apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 2}})
        assert scale.spec.replicas == 2
        events: list[Any] = []
        watcher = aio_watch.Watch()
        async with watcher.stream(apps.list_namespaced_deployment, "default", timeout_seconds=5) as stream:
            async for event in stream:
                events.append(event)
                if (event["object"].status.ready_replicas or 0) == 2:
                    watcher.stop()
        assert events[0]["type"] == "ADDED"
        assert events[-1]["object"].status.ready_replicas == 2
        assert events[-1]["object"].status.observed_generation == 2
