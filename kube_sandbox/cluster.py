"""Object semantics: what create, update, patch, delete and scale mean, independent of HTTP.

uid/creationTimestamp/resourceVersion/generation bookkeeping, optimistic concurrency, status/main
isolation, finalizer-gated deletion with propagation policies, garbage collection of dependents,
namespace lifecycle, CRDs becoming served resources, and server-side apply. Time comes from the injected
`clock`; follow-up work (garbage collection, namespace and CRD cleanup) goes through the injected
`defer`, which the server maps to its event loop, so it happens after the request, as in a cluster.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import ipaddress
import json
import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kube_sandbox import (
    builtins,
    crds,
    errors,
    fields,
    patching,
    resources,
    reviews,
    schemas,
    selectors,
    storage,
)

Clock = Callable[[], datetime.datetime]
Defer = Callable[[Callable[[], None]], None]

CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"
NAMESPACE_KEY = "/namespaces"
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
PROPAGATION_POLICIES = ("Background", "Foreground", "Orphan")
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class PatchType:
    JSON = "application/json-patch+json"
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY = "application/apply-patch+yaml"
    ALL = (JSON, MERGE, STRATEGIC, APPLY)


@dataclass(frozen=True)
class WriteOptions:
    dry_run: bool = False
    manager: str = ""
    field_validation: str = ""  # "", "Ignore", "Warn", "Strict"
    force: bool = False


@dataclass
class Outcome:
    obj: dict[str, Any]
    created: bool = False
    gone: bool = False
    warnings: list[str] = field(default_factory=list)


def timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _path_get(obj: Mapping[str, Any], dotted: str) -> Any:
    current: Any = obj
    for step in dotted.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(step)
    return current


def _path_set(obj: dict[str, Any], dotted: str, value: Any) -> None:
    steps = dotted.split(".")
    current = obj
    for step in steps[:-1]:
        nxt = current.get(step)
        nxt = {} if not isinstance(nxt, dict) else dict(nxt)
        current[step] = nxt
        current = nxt
    current[steps[-1]] = value


class Cluster:
    """The API's state and the semantics of every verb."""

    def __init__(
        self,
        *,
        store: storage.Store | None = None,
        registry: resources.Registry | None = None,
        clock: Clock | None = None,
        defer: Defer | None = None,
        rng: random.Random | None = None,
        auth: reviews.Reviews | None = None,
    ) -> None:
        self.store = store or storage.Store()
        self.registry = registry or resources.Registry.with_builtins()
        self.clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self.defer: Defer = defer or (lambda job: job())
        self.rng = rng or random.Random()
        self.reviews = auth or reviews.Reviews()
        self.resource_removed: list[Callable[[resources.ResourceType], None]] = []
        self._next_ip = int(ipaddress.IPv4Address("10.96.0.10"))
        self.store.subscribe(self._on_event)
        for name in DEFAULT_NAMESPACES:
            self.create(self.rt("", "v1", "namespaces"), None, {"metadata": {"name": name}})

    # --- helpers -----------------------------------------------------------------------------------

    def rt(self, group: str, version: str, plural: str) -> resources.ResourceType:
        found = self.registry.lookup(group, version, plural)
        if found is None:
            raise errors.unknown_path()
        return found

    def now(self) -> str:
        return timestamp(self.clock())

    def _allocate_ip(self) -> str:
        self._next_ip += 1
        return str(ipaddress.IPv4Address(self._next_ip))

    def _must_get(self, rt: resources.ResourceType, ns: str | None, name: str) -> storage.Record:
        record = self.store.get(rt.storage_key, ns or "", name)
        if record is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return record

    def _view(self, rt: resources.ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as seen through `rt`'s version (all versions share storage, no conversion)."""
        if obj.get("apiVersion") == rt.api_version:
            return obj
        out = dict(obj)
        out["apiVersion"] = rt.api_version
        return out

    def _check_namespace(self, rt: resources.ResourceType, ns: str | None, name: str, *, creating: bool) -> None:
        if not rt.namespaced:
            return
        ns_record = self.store.get(NAMESPACE_KEY, "", ns or "")
        if ns_record is None:
            raise errors.not_found("namespaces", "", ns or "")
        if creating and ns_record.obj["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(rt.plural, rt.group, name,
                                   f"unable to create new content in namespace {ns} because it is being terminated")

    # --- reads -------------------------------------------------------------------------------------

    def get(self, rt: resources.ResourceType, ns: str | None, name: str) -> storage.Record:
        return self._must_get(rt, ns, name)

    def list_records(
        self,
        rt: resources.ResourceType,
        ns: str | None,
        labels: selectors.LabelSelector,
        field_selector: selectors.FieldSelector,
        *,
        limit: int = 0,
        continue_token: str | None = None,
    ) -> tuple[list[storage.Record], int, str | None, int | None]:
        """Matching records, the list resourceVersion, the continue token and the remaining count."""
        rv = self.store.rv
        start: tuple[str, str] | None = None
        if continue_token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(continue_token.encode()))
                start = (str(decoded["ns"]), str(decoded["name"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise errors.bad_request(f"continue key is not valid: {exc}") from exc
        exact = field_selector.exact_name()
        if exact is not None and ns is not None:
            record = self.store.get(rt.storage_key, ns, exact)
            candidates: Iterable[storage.Record] = [record] if record else []
        else:
            candidates = self.store.items(rt.storage_key, ns)
        items: list[storage.Record] = []
        for record in candidates:
            meta = record.obj["metadata"]
            if start is not None and (meta.get("namespace", ""), meta["name"]) <= start:
                continue
            if not labels.empty and not labels.matches(meta.get("labels")):
                continue
            if field_selector.requirements and not field_selector.matches(record.obj):
                continue
            items.append(record)
        token: str | None = None
        remaining: int | None = None
        if limit and len(items) > limit:
            remaining = len(items) - limit
            items = items[:limit]
            last = items[-1].obj["metadata"]
            token = base64.urlsafe_b64encode(json.dumps(
                {"rv": rv, "ns": last.get("namespace", ""), "name": last["name"]}).encode()).decode()
        return items, rv, token, remaining

    # --- create ------------------------------------------------------------------------------------

    def create(self, rt: resources.ResourceType, ns: str | None, body: Any,
               opts: WriteOptions | None = None, *, requester: reviews.User | None = None,
               applied: Mapping[str, Any] | None = None) -> Outcome:
        opts = opts or WriteOptions()
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body of the request must be a {rt.kind} object")
        self._check_kind(rt, body)
        if rt.verbs == ("create",):
            return self._review(rt, body, requester)
        obj = {"apiVersion": rt.api_version, "kind": rt.kind} | patching.clone(body)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        meta = dict(meta)
        obj["metadata"] = meta
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != ns:
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if not prefix:
                raise errors.invalid(rt.kind, rt.group, "", [errors.FieldError(
                    errors.CauseType.REQUIRED, "metadata.name", "Required value: name or generateName is required")])
            meta["name"] = str(prefix) + "".join(self.rng.choice(_GENERATE_ALPHABET) for _ in range(5))
        name = str(meta["name"])
        self._check_namespace(rt, ns, name, creating=True)
        if self.store.get(rt.storage_key, ns or "", name) is not None:
            raise errors.already_exists(rt.plural, rt.group, name)
        for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        meta["creationTimestamp"] = self.now()
        if rt.generation:
            meta["generation"] = 1
        if rt.status:
            obj.pop("status", None)  # status is the controllers' to write, never the creator's
        warnings = self._prepare(rt, obj, None, opts)
        if rt.storage_key == CRD_KEY:
            crds.default(obj)
            problems = crds.validate(obj)
            if problems:
                raise errors.invalid(rt.kind, rt.group, name, problems)
            finalizers = list(meta.get("finalizers") or [])
            if crds.CLEANUP_FINALIZER not in finalizers:
                finalizers.append(crds.CLEANUP_FINALIZER)
            meta["finalizers"] = finalizers
            obj["status"] = crds.established_status(obj, meta["creationTimestamp"])
        if applied is not None:
            meta["managedFields"] = fields.apply(None, applied, manager=opts.manager, force=True, subresource="",
                                                 api_version=rt.api_version, now=meta["creationTimestamp"])[1]
        else:
            meta["managedFields"] = fields.record_update(None, obj, manager=opts.manager or "unknown", subresource="",
                                                         api_version=rt.api_version, now=meta["creationTimestamp"])
        if opts.dry_run:
            return Outcome(obj, created=True, warnings=warnings)
        record = self._commit(rt, obj)
        if rt.storage_key == CRD_KEY:
            self._serve_crd(record.obj)
        return Outcome(record.obj, created=True, warnings=warnings)

    def _check_kind(self, rt: resources.ResourceType, body: Mapping[str, Any]) -> None:
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if kind and kind != rt.kind:
            raise errors.bad_request(f'the kind "{kind}" of the body does not match the resource {rt.group_resource} ({rt.kind})')
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(
                f'the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})')

    def _review(self, rt: resources.ResourceType, body: dict[str, Any], requester: reviews.User | None) -> Outcome:
        out = dict(body)
        out["apiVersion"], out["kind"] = rt.api_version, rt.kind
        out.setdefault("metadata", {})
        if rt.plural == "tokenreviews":
            answered = self.reviews.token_review(out)
        else:
            answered = self.reviews.access_review(
                out, requester if rt.plural == "selfsubjectaccessreviews" else None)
            if rt.plural == "selfsubjectaccessreviews":
                answered["spec"] = {k: v for k, v in (body.get("spec") or {}).items()}
        return Outcome(answered, created=True)

    def _prepare(self, rt: resources.ResourceType, obj: dict[str, Any], old: Mapping[str, Any] | None,
                 opts: WriteOptions) -> list[str]:
        """Default, prune and validate `obj` in place; returns warnings, raises 400/422."""
        name = str(obj["metadata"].get("name", ""))
        warnings: list[str] = []
        if rt.schema is not None:
            schema = rt.schema
            schemas.apply_defaults(obj, schema)
            pruned = schemas.prune(obj, schema, root=True)
            if pruned:
                unknown = ", ".join(f'unknown field "{p}"' for p in pruned)
                if opts.field_validation == "Strict":
                    raise errors.bad_request(
                        f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict decoding error: {unknown}')
                if opts.field_validation in ("", "Warn"):
                    warnings += [f'unknown field "{p}"' for p in pruned]
            problems = builtins.validate_metadata(rt, obj) + schemas.validate(obj, schema, root=True)
        else:
            decode_error = builtins.type_errors(rt, obj)
            if decode_error:
                raise errors.bad_request(decode_error)
            problems = builtins.validate_metadata(rt, obj) + builtins.prepare(rt, obj, old, self._allocate_ip)
        if problems:
            raise errors.invalid(rt.kind, rt.group, name, problems)
        return warnings

    def _commit(self, rt: resources.ResourceType, obj: dict[str, Any]) -> storage.Record:
        obj["metadata"]["resourceVersion"] = str(self.store.next_rv())
        return self.store.put(rt.storage_key, obj)

    # --- update ------------------------------------------------------------------------------------

    def update(self, rt: resources.ResourceType, ns: str | None, name: str, body: Any,
               opts: WriteOptions | None = None, *, subresource: str = "") -> Outcome:
        """PUT: replace the object (or its status) with `body`."""
        opts = opts or WriteOptions()
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body of the request must be a {rt.kind} object")
        self._check_kind(rt, body)
        meta = body.get("metadata") or {}
        if meta.get("name") not in (None, name):
            raise errors.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
        if rt.namespaced and meta.get("namespace") not in (None, "", ns):
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        old = self._must_get(rt, ns, name)
        return self._write(rt, old, patching.clone(body), opts, subresource=subresource)

    def _write(self, rt: resources.ResourceType, old: storage.Record, new: dict[str, Any], opts: WriteOptions, *,
               subresource: str, precondition_rv: str | None = None, apply_fields: list[dict[str, Any]] | None = None,
               ) -> Outcome:
        """The common tail of PUT and PATCH: merge rules, checks, bookkeeping, commit."""
        old_obj = old.obj
        old_meta = old_obj["metadata"]
        name = old_meta["name"]
        raw_meta = new.get("metadata")
        new_meta = dict(raw_meta) if isinstance(raw_meta, dict) else {}
        requested_rv = precondition_rv if precondition_rv is not None else new_meta.get("resourceVersion")
        if requested_rv not in (None, "") and str(requested_rv) != old_meta["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name)
        if new_meta.get("uid") not in (None, "", old_meta["uid"]):
            raise errors.conflict(rt.plural, rt.group, name,
                                  f"Precondition failed: UID in precondition: {new_meta['uid']}, UID in object meta: {old_meta['uid']}")
        if subresource == "status":
            # Only the status stanza of the request counts.
            merged = dict(old_obj)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            merged["metadata"] = dict(old_meta)
            new = patching.clone(merged)
            new_meta = new["metadata"]
        else:
            if rt.status:
                if "status" in old_obj:
                    new["status"] = old_obj["status"]
                else:
                    new.pop("status", None)
            for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "name",
                        "namespace", "generation"):
                if key in old_meta:
                    new_meta[key] = old_meta[key]
                else:
                    new_meta.pop(key, None)
            new_meta.pop("selfLink", None)
            new["metadata"] = new_meta
            new = patching.clone(new)
            new_meta = new["metadata"]
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        new_meta["resourceVersion"] = old_meta["resourceVersion"]
        new_meta["managedFields"] = old_meta.get("managedFields", [])
        if old_meta.get("deletionTimestamp"):
            added = [f for f in new_meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
            if added:
                raise errors.invalid(rt.kind, rt.group, name, [errors.FieldError(
                    errors.CauseType.FORBIDDEN, "metadata.finalizers",
                    f"Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {json.dumps(added)}")])
        warnings = self._prepare(rt, new, old_obj, opts)
        if rt.storage_key == CRD_KEY:
            crds.default(new)
            problems = crds.validate(new)
            if problems:
                raise errors.invalid(rt.kind, rt.group, name, problems)
        if rt.generation and self._spec_changed(rt, old_obj, new):
            new_meta["generation"] = int(old_meta.get("generation", 1)) + 1
        if new == old_obj:
            return Outcome(self._view(rt, old_obj), warnings=warnings)  # a no-op writes nothing
        if apply_fields is not None:
            new_meta["managedFields"] = apply_fields
        else:
            new_meta["managedFields"] = fields.record_update(
                old_obj, new, manager=opts.manager or "unknown", subresource=subresource,
                api_version=rt.api_version, now=self.now())
        if opts.dry_run:
            return Outcome(new, warnings=warnings)
        if new_meta.get("deletionTimestamp") and not new_meta.get("finalizers"):
            final = self._remove(rt, new)
            return Outcome(self._view(rt, final.obj), gone=True, warnings=warnings)
        record = self._commit(rt, new)
        if rt.storage_key == CRD_KEY:
            self._serve_crd(record.obj)
        return Outcome(self._view(rt, record.obj), warnings=warnings)

    @staticmethod
    def _spec_changed(rt: resources.ResourceType, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        skip = ("metadata", "status") if rt.status else ("metadata",)
        keys = (set(old) | set(new)) - set(skip)
        return any(old.get(k) != new.get(k) for k in keys)

    # --- patch -------------------------------------------------------------------------------------

    def patch(self, rt: resources.ResourceType, ns: str | None, name: str, patch_type: str, body: Any,
              opts: WriteOptions | None = None, *, subresource: str = "") -> Outcome:
        opts = opts or WriteOptions()
        if patch_type == PatchType.STRATEGIC and rt.crd is not None:
            raise errors.unsupported_media_type(patch_type, [PatchType.JSON, PatchType.MERGE, PatchType.APPLY])
        if patch_type == PatchType.APPLY:
            return self._apply(rt, ns, name, body, opts, subresource=subresource)
        old = self._must_get(rt, ns, name)
        new = self._patched(old.obj, patch_type, body)
        if not isinstance(new, dict):
            raise errors.bad_request("the patch must produce an object")
        patched_meta = new["metadata"] if isinstance(new.get("metadata"), dict) else {}
        # A resourceVersion in the patch is a precondition (the real API treats it so).
        rv = patched_meta.get("resourceVersion")
        precondition = str(rv) if rv not in (None, "") and rv != old.obj["metadata"]["resourceVersion"] else None
        return self._write(rt, old, new, opts, subresource=subresource, precondition_rv=precondition)

    def _patched(self, current: Any, patch_type: str, body: Any) -> Any:
        try:
            if patch_type == PatchType.JSON:
                return patching.json_patch(current, body)
            if not isinstance(body, dict):
                raise errors.bad_request("the patch must be a JSON object")
            if patch_type == PatchType.MERGE:
                return patching.merge_patch(current, body)
            if patch_type == PatchType.STRATEGIC:
                return patching.strategic_merge(current, body)
        except patching.PatchError as exc:
            if exc.malformed:
                raise errors.bad_request(str(exc)) from exc
            raise errors.unprocessable_patch(str(exc)) from exc
        raise errors.unsupported_media_type(patch_type, PatchType.ALL)

    def _apply(self, rt: resources.ResourceType, ns: str | None, name: str, body: Any, opts: WriteOptions, *,
               subresource: str) -> Outcome:
        if not opts.manager:
            raise errors.invalid("PatchOptions", "meta.k8s.io", "", [errors.FieldError(
                errors.CauseType.REQUIRED, "fieldManager", "Required value: is required for apply patch")])
        if not isinstance(body, dict):
            raise errors.bad_request("an apply patch must be a single object")
        self._check_kind(rt, body)
        if not body.get("apiVersion") or not body.get("kind"):
            raise errors.bad_request("invalid object type: apiVersion and kind must be set in an apply patch")
        meta = body.get("metadata") or {}
        if meta.get("name") not in (None, name):
            raise errors.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
        old = self.store.get(rt.storage_key, ns or "", name)
        if old is None:
            return self.create(rt, ns, dict(body, metadata=dict(meta, name=name)), opts, applied=body)
        try:
            new, entries = fields.apply(old.obj, body, manager=opts.manager, force=opts.force, subresource=subresource,
                                        api_version=rt.api_version, now=self.now())
        except fields.ApplyConflict as exc:
            details = "; ".join(f'conflict with "{m}": {fields.render_path(p)}' for m, p in exc.conflicts)
            raise errors.ApiError(409, errors.Reason.CONFLICT, f"Apply failed with {len(exc.conflicts)} conflict"
                                  f"{'s' if len(exc.conflicts) > 1 else ''}: {details}", name=name, group=rt.group,
                                  kind=rt.plural, causes=[errors.FieldError(errors.CauseType.INVALID, fields.render_path(p),
                                                                            f'conflict with "{m}"') for m, p in exc.conflicts]) from exc
        new["metadata"] = dict(new["metadata"], resourceVersion=old.obj["metadata"]["resourceVersion"])
        return self._write(rt, old, new, opts, subresource=subresource, apply_fields=entries)

    # --- scale -------------------------------------------------------------------------------------

    def scale_of(self, rt: resources.ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
        spec = rt.scale
        if spec is None:
            raise errors.unknown_path()
        meta = obj["metadata"]
        replicas = _path_get(obj, spec.spec_replicas_path)
        status_replicas = _path_get(obj, spec.status_replicas_path)
        if spec.selector_from_spec:
            selector: str | None = selectors.render(selectors.from_label_selector_object((obj.get("spec") or {}).get("selector")))
        else:
            raw = _path_get(obj, spec.label_selector_path) if spec.label_selector_path else None
            selector = raw if isinstance(raw, str) else None
        status: dict[str, Any] = {"replicas": status_replicas if isinstance(status_replicas, int) else 0}
        if selector:
            status["selector"] = selector
        scale_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta}
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": scale_meta,
            "spec": {"replicas": replicas if isinstance(replicas, int) else 0},
            "status": status,
        }

    def get_scale(self, rt: resources.ResourceType, ns: str | None, name: str) -> dict[str, Any]:
        return self.scale_of(rt, self._must_get(rt, ns, name).obj)

    def write_scale(self, rt: resources.ResourceType, ns: str | None, name: str, scale: Any,
                    opts: WriteOptions | None = None, *, patch_type: str | None = None) -> Outcome:
        opts = opts or WriteOptions()
        if rt.scale is None:
            raise errors.unknown_path()
        old = self._must_get(rt, ns, name)
        current = self.scale_of(rt, old.obj)
        if patch_type is not None:
            if patch_type == PatchType.APPLY:
                if not isinstance(scale, dict):
                    raise errors.bad_request("an apply patch must be a single object")
                scale = patching.strategic_merge(current, {k: v for k, v in scale.items() if k in ("spec", "metadata")})
            else:
                scale = self._patched(current, patch_type, scale)
        if not isinstance(scale, dict):
            raise errors.bad_request("the body of the request must be a Scale object")
        if scale.get("kind") not in (None, "Scale"):
            raise errors.bad_request(f'the kind "{scale.get("kind")}" of the body does not match Scale')
        requested_rv = (scale.get("metadata") or {}).get("resourceVersion")
        if patch_type is not None and requested_rv == current["metadata"]["resourceVersion"]:
            requested_rv = None
        replicas = (scale.get("spec") or {}).get("replicas")
        if replicas is None:
            replicas = 0
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise errors.bad_request(f"Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal "
                                     f"{type(replicas).__name__} into Go struct field ScaleSpec.spec.replicas of type int32")
        if replicas < 0:
            raise errors.invalid("Scale", "autoscaling", name, [errors.FieldError(
                errors.CauseType.INVALID, "spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")])
        new = patching.clone(old.obj)
        _path_set(new, rt.scale.spec_replicas_path, replicas)
        outcome = self._write(rt, old, new, opts, subresource="scale",
                              precondition_rv=str(requested_rv) if requested_rv not in (None, "") else None)
        outcome.obj = self.scale_of(rt, outcome.obj)
        return outcome

    # --- delete ------------------------------------------------------------------------------------

    def delete(self, rt: resources.ResourceType, ns: str | None, name: str, *,
               propagation: str | None = None, preconditions: Mapping[str, Any] | None = None,
               dry_run: bool = False) -> Outcome:
        record = self._must_get(rt, ns, name)
        meta = record.obj["metadata"]
        preconditions = preconditions or {}
        if preconditions.get("uid") not in (None, "", meta["uid"]):
            raise errors.conflict(rt.plural, rt.group, name,
                                  f"Precondition failed: UID in precondition: {preconditions['uid']}, UID in object meta: {meta['uid']}")
        if preconditions.get("resourceVersion") not in (None, "", meta["resourceVersion"]):
            raise errors.conflict(rt.plural, rt.group, name,
                                  f"Precondition failed: ResourceVersion in precondition: {preconditions['resourceVersion']}, "
                                  f"ResourceVersion in object meta: {meta['resourceVersion']}")
        policy = propagation or "Background"
        if policy not in PROPAGATION_POLICIES:
            raise errors.invalid("DeleteOptions", "meta.k8s.io", "", [errors.FieldError(
                errors.CauseType.NOT_SUPPORTED, "propagationPolicy",
                f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan", "nil"')])
        if dry_run:
            return Outcome(self._view(rt, record.obj), gone=not meta.get("finalizers"))
        if meta.get("deletionTimestamp"):
            return Outcome(self._view(rt, record.obj))
        if policy == "Orphan":
            self._orphan(meta["uid"])
        finalizers = list(meta.get("finalizers") or [])
        has_dependents = bool(self.store.dependents(meta["uid"]))
        if policy == "Foreground" and has_dependents and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        if rt.storage_key == NAMESPACE_KEY or finalizers:
            new = dict(record.obj)
            new_meta = dict(meta, deletionTimestamp=self.now(), deletionGracePeriodSeconds=0, finalizers=finalizers)
            if not finalizers:
                new_meta.pop("finalizers")
            if rt.generation and "generation" in new_meta:
                new_meta["generation"] = int(new_meta["generation"]) + 1
            new["metadata"] = new_meta
            if rt.storage_key == NAMESPACE_KEY:
                new["status"] = dict(new.get("status") or {}, phase="Terminating")
            committed = self._commit(rt, new)
            if rt.storage_key == NAMESPACE_KEY:
                self.defer(lambda: self._drain_namespace(name))
            elif FOREGROUND in finalizers:
                uid = meta["uid"]
                self.defer(lambda: self._delete_dependents(uid))
            elif rt.storage_key == CRD_KEY:
                self.defer(lambda: self._drain_crd(name))
            return Outcome(self._view(rt, committed.obj))
        final = self._remove(rt, record.obj)
        return Outcome(self._view(rt, final.obj), gone=True)

    def delete_collection(self, rt: resources.ResourceType, ns: str | None, labels: selectors.LabelSelector,
                          field_selector: selectors.FieldSelector, *, propagation: str | None = None,
                          dry_run: bool = False) -> list[dict[str, Any]]:
        items, _, _, _ = self.list_records(rt, ns, labels, field_selector)
        out = []
        for record in items:
            meta = record.obj["metadata"]
            try:
                out.append(self.delete(rt, meta.get("namespace"), meta["name"], propagation=propagation,
                                       dry_run=dry_run).obj)
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
        return out

    def _remove(self, rt: resources.ResourceType, obj: dict[str, Any]) -> storage.Record:
        final = dict(obj)
        final["metadata"] = dict(obj["metadata"], resourceVersion=str(self.store.next_rv()))
        record = self.store.remove(rt.storage_key, final)
        if rt.storage_key == CRD_KEY:
            for gone in self.registry.remove_crd(final["metadata"]["name"]):
                for callback in list(self.resource_removed):
                    callback(gone)
        return record

    # --- internal writers (controllers) ------------------------------------------------------------

    def _rt_for(self, key: str) -> resources.ResourceType | None:
        return self.registry.by_storage_key(key)

    def internal_update(self, key: str, ns: str, name: str, change: Callable[[dict[str, Any]], None], *,
                        subresource: str = "", manager: str = "kube-controller-manager") -> bool:
        """Apply `change` to a fresh copy of the latest object and write it (controllers never conflict)."""
        rt = self._rt_for(key)
        record = self.store.get(key, ns, name)
        if rt is None or record is None:
            return False
        new = patching.clone(record.obj)
        change(new)
        try:
            self._write(rt, record, new, WriteOptions(manager=manager), subresource=subresource)
        except errors.ApiError:
            return False
        return True

    def internal_delete(self, key: str, ns: str, name: str, propagation: str = "Background") -> None:
        rt = self._rt_for(key)
        if rt is None:
            return
        with contextlib.suppress(errors.ApiError):
            self.delete(rt, ns or None, name, propagation=propagation)

    # --- garbage collection, namespaces, CRDs ------------------------------------------------------

    def _on_event(self, event: storage.Event) -> None:
        if event.type != "DELETED":
            if event.type == "ADDED" and event.record.obj["metadata"].get("ownerReferences"):
                uid = event.record.obj["metadata"]["uid"]
                self.defer(lambda: self._check_dangling(uid))
            return
        meta = event.record.obj["metadata"]
        uid = meta["uid"]
        if self.store.dependents(uid):
            self.defer(lambda: self._collect(uid))
        for ref in meta.get("ownerReferences") or []:
            owner = self.store.by_uid(str(ref.get("uid")))
            if owner is not None and FOREGROUND in (owner.obj["metadata"].get("finalizers") or []):
                self.defer(functools.partial(self._finish_foreground, str(ref.get("uid"))))
        if event.namespace:
            ns_record = self.store.get(NAMESPACE_KEY, "", event.namespace)
            if ns_record is not None and ns_record.obj["metadata"].get("deletionTimestamp"):
                ns_name = event.namespace
                self.defer(lambda: self._finish_namespace(ns_name))
        if event.key != CRD_KEY:
            crd_name = self._crd_waiting_for(event.key)
            if crd_name:
                self.defer(lambda: self._finish_crd(crd_name))

    def _check_dangling(self, uid: str) -> None:
        record = self.store.by_uid(uid)
        if record is None:
            return
        refs = record.obj["metadata"].get("ownerReferences") or []
        if refs and all(self.store.by_uid(str(r.get("uid"))) is None for r in refs):
            meta = record.obj["metadata"]
            key = self.store.locate(uid)
            if key is not None:
                self.internal_delete(key[0], meta.get("namespace", ""), meta["name"])

    def _collect(self, owner_uid: str) -> None:
        for dependent in self.store.dependents(owner_uid):
            meta = dependent.obj["metadata"]
            where = self.store.locate(meta["uid"])
            if where is None:
                continue
            key, ns, name = where
            refs = meta.get("ownerReferences") or []
            alive = [r for r in refs if str(r.get("uid")) != owner_uid and self.store.by_uid(str(r.get("uid")))]
            if alive:
                self.internal_update(key, ns, name, _set_owners(alive), manager="garbage-collector")
            elif not meta.get("deletionTimestamp"):
                self.internal_delete(key, ns, name)

    def _orphan(self, owner_uid: str) -> None:
        for dependent in self.store.dependents(owner_uid):
            meta = dependent.obj["metadata"]
            where = self.store.locate(meta["uid"])
            if where is None:
                continue

            refs = [r for r in meta.get("ownerReferences") or [] if str(r.get("uid")) != owner_uid]
            self.internal_update(where[0], where[1], where[2], _set_owners(refs), manager="garbage-collector")

    def _delete_dependents(self, owner_uid: str) -> None:
        for dependent in self.store.dependents(owner_uid):
            meta = dependent.obj["metadata"]
            where = self.store.locate(meta["uid"])
            if where is not None and not meta.get("deletionTimestamp"):
                self.internal_delete(where[0], where[1], where[2], propagation="Foreground")
        self._finish_foreground(owner_uid)

    def _finish_foreground(self, owner_uid: str) -> None:
        if self.store.dependents(owner_uid):
            return
        where = self.store.locate(owner_uid)
        if where is None:
            return

        def drop(o: dict[str, Any]) -> None:
            o["metadata"]["finalizers"] = [f for f in o["metadata"].get("finalizers") or [] if f != FOREGROUND]

        self.internal_update(where[0], where[1], where[2], drop, manager="garbage-collector")

    def _drain_namespace(self, ns: str) -> None:
        for key in self.registry.namespaced_storage_keys():
            for record in list(self.store.items(key, ns)):
                if not record.obj["metadata"].get("deletionTimestamp"):
                    self.internal_delete(key, ns, record.obj["metadata"]["name"])
        self._finish_namespace(ns)

    def _finish_namespace(self, ns: str) -> None:
        record = self.store.get(NAMESPACE_KEY, "", ns)
        if record is None or not record.obj["metadata"].get("deletionTimestamp"):
            return
        if any(self.store.count(key, ns) for key in self.store.storage_keys() if key != NAMESPACE_KEY):
            return
        if record.obj["metadata"].get("finalizers"):
            return
        rt = self.rt("", "v1", "namespaces")
        self._remove(rt, record.obj)

    def _serve_crd(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        before = {(r.group, r.version, r.plural) for r in self.registry.all() if r.crd == name}
        self.registry.remove_crd(name)
        for rt, preferred in crds.served_types(crd):
            self.registry.add(rt, preferred=preferred)
        after = {(r.group, r.version, r.plural) for r in self.registry.all() if r.crd == name}
        for group, version, plural in before - after:
            for callback in list(self.resource_removed):
                callback(resources.ResourceType(group=group, version=version, plural=plural, singular="",
                                                kind="", namespaced=False, crd=name))

    def _crd_waiting_for(self, key: str) -> str | None:
        group, plural = key.split("/", 1)
        name = f"{plural}.{group}"
        record = self.store.get(CRD_KEY, "", name)
        if record is not None and record.obj["metadata"].get("deletionTimestamp"):
            return name
        return None

    def _drain_crd(self, name: str) -> None:
        record = self.store.get(CRD_KEY, "", name)
        if record is None:
            return
        spec = record.obj["spec"]
        key = f"{spec['group']}/{spec['names']['plural']}"
        for item in list(self.store.items(key, None)):
            if not item.obj["metadata"].get("deletionTimestamp"):
                self.internal_delete(key, item.obj["metadata"].get("namespace", ""), item.obj["metadata"]["name"])
        self._finish_crd(name)

    def _finish_crd(self, name: str) -> None:
        record = self.store.get(CRD_KEY, "", name)
        if record is None or not record.obj["metadata"].get("deletionTimestamp"):
            return
        spec = record.obj["spec"]
        key = f"{spec['group']}/{spec['names']['plural']}"
        if next(iter(self.store.items(key, None)), None) is not None:
            return

        def drop(o: dict[str, Any]) -> None:
            o["metadata"]["finalizers"] = [f for f in o["metadata"].get("finalizers") or [] if f != crds.CLEANUP_FINALIZER]

        self.internal_update(CRD_KEY, "", name, drop, manager="apiextensions-apiserver")


def _set_owners(refs: list[Any]) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        if refs:
            obj["metadata"]["ownerReferences"] = refs
        else:
            obj["metadata"].pop("ownerReferences", None)
    return change
