"""What keeps a start-up of thousands of ScaledObjects proportional to its work (issue 15).

* `kube.Watched.add_index` / `by_index`: the conflict check finds the ScaledObjects and HPAs on one
  workload by lookup; the index follows every put, delete, re-list and clear of the cache.
* A ScaledObject is queued for its own reconcile only when something a reconcile reads changed: not
  for the operator's status writes nor the `scaledobject.keda.sh/name` label the reconcile put on.
"""

from __future__ import annotations

import logging
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


def _body(labels: dict[str, str] | None = None, **changes: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "orders", "namespace": "apps", "uid": "u1", "resourceVersion": "1",
                            "finalizers": ["finalizer.keda.sh"]}
    if labels is not None:
        meta["labels"] = labels
    meta.update(changes.pop("meta", {}))
    body: dict[str, Any] = {"metadata": meta, "spec": {"maxReplicaCount": 10, "pollingInterval": 10},
                            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("before", "after", "reconciles"),
    [
        pytest.param(_body(), _body({LABEL: "orders"}), False, id="label-on-no-labels"),
        pytest.param(_body({"team": "a"}), _body({"team": "a", LABEL: "orders"}), False, id="label-beside-others"),
        pytest.param(_body({"team": "a"}), _body({"team": "a", LABEL: "other"}), True, id="label-naming-another"),
        pytest.param(_body({"team": "a"}), _body({LABEL: "orders"}), True, id="another-label-removed"),
        pytest.param(_body(), _body({LABEL: "orders"}, spec={"maxReplicaCount": 20, "pollingInterval": 10}), True,
                     id="label-and-spec"),
        pytest.param(_body(), _body(spec={"maxReplicaCount": 10, "pollingInterval": 5}), True, id="spec"),
        pytest.param(_body(), _body(meta={"annotations": {"autoscaling.keda.sh/paused": "true"}}), True,
                     id="annotation"),
        pytest.param(_body(), _body(status={"conditions": [{"type": "Ready", "status": "False"}]}), False,
                     id="status-write"),
        pytest.param(_body(), _body(meta={"resourceVersion": "2"}), False, id="resource-version-only"),
        pytest.param(_body(), _body(meta={"finalizers": []}), True, id="finalizer-taken-off"),
        pytest.param(_body(meta={"finalizers": []}), _body(), False, id="finalizer-put-on"),
        pytest.param(_body(), _body(meta={"deletionTimestamp": "2026-12-03T10:00:00Z"}), True, id="deletion"),
        pytest.param(None, _body(), True, id="new"),
        pytest.param(_body(), None, True, id="gone"),
    ],
)
def test_a_scaled_object_is_reconciled_for_what_a_reconcile_reads_only(
    before: dict[str, Any] | None, after: dict[str, Any] | None, reconciles: bool
) -> None:
    assert handlers.needs_reconcile(before, after) is reconciles, (
        f"ScaledObject apps/orders from {before} to {after}: expected reconcile={reconciles}"
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


def _ready(status: str | None, message: str = "") -> dict[str, Any]:
    conditions = [] if status is None else [{"type": "Ready", "status": status, "message": message}]
    return {"metadata": {"name": "orders"}, "status": {"conditions": conditions}}


@pytest.mark.parametrize(
    ("before", "after", "retried"),
    [
        pytest.param(_ready(None), _ready("True"), True, id="the-leader-made-it-ready"),
        pytest.param(_ready("True"), _ready("False", "invalid"), True, id="the-leader-found-it-invalid"),
        pytest.param(_ready("False", "a"), _ready("False", "b"), True, id="another-failure"),
        pytest.param(_ready("True"), _ready("True"), False, id="a-tick-status-write"),
        pytest.param(_ready(None), _ready(None), False, id="label-or-finalizer-only"),
    ],
)
def test_a_standby_tries_again_what_it_could_not_write_once_the_leader_reconciled_it(
    before: dict[str, Any], after: dict[str, Any], retried: bool
) -> None:
    assert handlers._ready_changed(before, after) is retried


async def test_a_takeover_says_when_the_objects_its_standby_could_not_write_were_reconciled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime: Any = None  # the queue alone: no worker runs
    reconciler = handlers.Reconciler(runtime, first_delay=1.0)
    deferred = [("default", f"orders-{n}") for n in range(3)]
    reconciler._deferred.update(deferred)
    assert reconciler.take_over() == 3
    with caplog.at_level(logging.INFO, logger="ebb.handlers"):
        for key in deferred[:2]:
            reconciler._after_take_over(key)
        assert "could not write" not in caplog.text
        reconciler._after_take_over(("default", "someone-else"))
        assert "could not write" not in caplog.text
        reconciler._after_take_over(deferred[2])
        reconciler._after_take_over(deferred[2])  # said once
    lines = [r.getMessage() for r in caplog.records if "could not write" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("the 3 ScaledObjects the standby could not write were reconciled ")
    await reconciler.stop()
