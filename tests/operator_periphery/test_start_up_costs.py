"""What keeps a start-up of thousands of ScaledObjects proportional to its work (issue 15).

* `kube.Watched.add_index` / `by_index`: the conflict check finds the ScaledObjects and HPAs on one
  workload by lookup; the index follows every put, delete, re-list and clear of the cache.
* The kopf update handler does not reconcile again for the `scaledobject.keda.sh/name` label the
  reconcile itself put on, and does for any other change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from scaler.core import specs
from scaler.operator import handlers, kube


def _so(name: str, target: str, *, namespace: str = "apps", rv: str = "1") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": rv},
        "spec": {"scaleTargetRef": {"name": target}},
    }


def _by_target(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    meta, spec = body["metadata"], body["spec"]
    return [(meta["namespace"], spec["scaleTargetRef"]["name"])]


def _names(bodies: list[Mapping[str, Any]]) -> list[str]:
    return [b["metadata"]["name"] for b in bodies]


def _watched_with(*bodies: dict[str, Any]) -> kube.Watched:
    watched = kube.Watched()
    for body in bodies:
        watched.put(kube.SCALED_OBJECT, body)
    watched.add_index(kube.SCALED_OBJECT, "target", _by_target)
    return watched


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(lambda w: None, {"web": ["a", "b"], "db": ["c"]}, id="indexed-when-added-over-a-filled-cache"),
        pytest.param(lambda w: w.put(kube.SCALED_OBJECT, _so("d", "web")), {"web": ["a", "b", "d"], "db": ["c"]},
                     id="put-of-a-new-object"),
        pytest.param(lambda w: w.put(kube.SCALED_OBJECT, _so("a", "db", rv="2")), {"web": ["b"], "db": ["c", "a"]},
                     id="put-that-moves-the-target"),
        pytest.param(lambda w: w.delete(kube.SCALED_OBJECT, _so("b", "web")), {"web": ["a"], "db": ["c"]},
                     id="delete"),
        pytest.param(lambda w: w.replace(kube.SCALED_OBJECT, [_so("c", "db")]), {"web": [], "db": ["c"]},
                     id="re-list-forgets-the-missing"),
        pytest.param(lambda w: w.clear(), {"web": [], "db": []}, id="clear"),
    ],
)
def test_the_index_follows_the_cache(change: Any, expected: dict[str, list[str]]) -> None:
    watched = _watched_with(_so("a", "web"), _so("b", "web"), _so("c", "db"))
    change(watched)
    found = {target: _names(watched.by_index(kube.SCALED_OBJECT, "target", ("apps", target))) for target in expected}
    assert found == expected, f"ScaledObjects by spec.scaleTargetRef.name: expected {expected}, got {found}"


def test_an_index_registered_twice_keeps_the_first() -> None:
    watched = _watched_with(_so("a", "web"))
    watched.add_index(kube.SCALED_OBJECT, "target", lambda body: [("apps", "elsewhere")])
    found = _names(watched.by_index(kube.SCALED_OBJECT, "target", ("apps", "web")))
    assert found == ["a"], f"the first index's lookup for apps/web: expected ['a'], got {found}"


LABEL = specs.SCALED_OBJECT_NAME_LABEL


@pytest.mark.parametrize(
    ("diff", "reconciles"),
    [
        pytest.param([("add", ("metadata", "labels"), None, {LABEL: "orders"})], False, id="label-on-no-labels"),
        pytest.param([("add", ("metadata", "labels", LABEL), None, "orders")], False, id="label-beside-others"),
        pytest.param([("change", ("metadata", "labels"), {"team": "a"}, {"team": "a", LABEL: "orders"})], False,
                     id="labels-with-ours-added"),
        pytest.param([("add", ("metadata", "labels", LABEL), None, "other")], True, id="label-naming-another"),
        pytest.param([("change", ("metadata", "labels"), {"team": "a"}, {LABEL: "orders"})], True,
                     id="another-label-removed"),
        pytest.param([("add", ("metadata", "labels", LABEL), None, "orders"),
                      ("change", ("spec", "maxReplicaCount"), 10, 20)], True, id="label-and-spec"),
        pytest.param([("change", ("spec", "pollingInterval"), 10, 5)], True, id="spec"),
        pytest.param([("add", ("metadata", "annotations", "autoscaling.keda.sh/paused"), None, "true")], True,
                     id="annotation"),
    ],
)
def test_the_update_handler_skips_only_its_own_label(diff: list[Any], reconciles: bool) -> None:
    body = {"metadata": {"name": "orders", "namespace": "apps"}}
    assert handlers._not_only_own_label(diff=diff, body=body) is reconciles, (
        f"ScaledObject apps/orders updated by {diff}: expected reconcile={reconciles}"
    )


def _with_ready(body: dict[str, Any], status: str | None, *, deleting: bool = False) -> dict[str, Any]:
    if status is not None:
        body["status"] = {"conditions": [{"type": "Ready", "status": status}]}
    if deleting:
        body["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return body


@pytest.mark.parametrize(
    ("bodies", "in_apps", "in_all"),
    [
        pytest.param([_with_ready(_so("a", "web"), "False"), _with_ready(_so("b", "web"), "True")], ["a"], ["a"],
                     id="only-ready-false"),
        pytest.param([_with_ready(_so("a", "web"), None)], [], [], id="not-checked-yet"),
        pytest.param([_with_ready(_so("a", "web"), "False", deleting=True)], [], [], id="being-deleted"),
        pytest.param([_with_ready(_so("a", "web"), "False"), _with_ready(_so("z", "web", namespace="other"), "False")],
                     ["a"], ["a", "z"], id="by-namespace-and-among-all"),
        pytest.param([_with_ready(_so("a", "web"), "False"), _with_ready(_so("a", "web", rv="2"), "True")], [], [],
                     id="healed-by-a-status-write"),
    ],
)
def test_requeue_finds_failed_scaled_objects_by_index(bodies: list[dict[str, Any]], in_apps: list[str],
                                                      in_all: list[str]) -> None:
    watched = kube.Watched()
    watched.add_index(kube.SCALED_OBJECT, handlers._FAILED, handlers._failed_keys)
    for body in bodies:
        watched.put(kube.SCALED_OBJECT, body)
    found_apps = sorted(_names(watched.by_index(kube.SCALED_OBJECT, handlers._FAILED, (handlers._FAILED_IN, "apps"))))
    found_all = sorted(_names(watched.by_index(kube.SCALED_OBJECT, handlers._FAILED, handlers._ALL_FAILED)))
    assert (found_apps, found_all) == (in_apps, in_all), (
        f"failed ScaledObjects (Ready=False, not deleting) in apps and among all: expected {in_apps}, {in_all}; "
        f"got {found_apps}, {found_all}")
