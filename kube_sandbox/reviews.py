"""TokenReview and SubjectAccessReview answers (the delegated-auth API aggregated servers call).

TokenReview authenticates as the sandbox authenticates requests: the admin token, ServiceAccount JWTs
(signature, expiry, audiences, the account still existing) and tokens a test configured. SubjectAccessReview
answers from the rules a test configured (first match wins), else from RBAC when the sandbox enforces it,
else `defaultAllowed`.

Tokens are secrets: they are looked up, never logged, and never echoed back (the answer carries the
user, not the token — the real API does the same).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kube_sandbox import errors, identity, rbac

User = identity.User
# token, audiences -> the user and the audiences it matched, or None (not a token the sandbox knows).
TokenAuthenticator = Callable[[str, Sequence[str]], "tuple[identity.User, tuple[str, ...]] | None"]
# The RBAC decision for a review's attributes, or None when RBAC is not enforced.
Authorizer = Callable[[rbac.Attributes], "rbac.Decision | None"]


@dataclass(frozen=True)
class AccessRule:
    """Matches SubjectAccessReviews; None matches anything. The first matching rule answers."""

    allowed: bool
    reason: str = ""
    user: str | None = None
    group: str | None = None
    verb: str | None = None
    resource: str | None = None
    api_group: str | None = None
    namespace: str | None = None
    name: str | None = None
    path: str | None = None

    def matches(self, spec: Mapping[str, Any]) -> bool:
        attrs = spec.get("resourceAttributes") or {}
        non_resource = spec.get("nonResourceAttributes") or {}
        checks: list[tuple[str | None, Any]] = [
            (self.user, spec.get("user")),
            (self.verb, attrs.get("verb") or non_resource.get("verb")),
            (self.resource, attrs.get("resource")),
            (self.api_group, attrs.get("group")),
            (self.namespace, attrs.get("namespace")),
            (self.name, attrs.get("name")),
            (self.path, non_resource.get("path")),
        ]
        if any(want is not None and want != got for want, got in checks):
            return False
        return self.group is None or self.group in (spec.get("groups") or [])


_RULE_FIELDS = {"allowed", "reason", "user", "group", "verb", "resource", "apiGroup", "namespace", "name", "path"}


def parse_rule(raw: Any, where: str) -> AccessRule:
    if not isinstance(raw, Mapping):
        raise errors.bad_request(f"{where}: expected an object")
    unknown = set(raw) - _RULE_FIELDS
    if unknown:
        raise errors.bad_request(f"{where}: unknown fields {sorted(unknown)}; expected some of {sorted(_RULE_FIELDS)}")
    if not isinstance(raw.get("allowed"), bool):
        raise errors.bad_request(f"{where}.allowed: expected true or false")
    values = {k: raw.get(k) for k in ("user", "group", "verb", "resource", "namespace", "name", "path")}
    for k, v in values.items():
        if v is not None and not isinstance(v, str):
            raise errors.bad_request(f"{where}.{k}: expected a string")
    return AccessRule(allowed=raw["allowed"], reason=str(raw.get("reason", "")), api_group=raw.get("apiGroup"),
                      **values)


class Reviews:
    """The answers. Thread-safe: tests change them from their own thread while the server runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, User] = {}
        self.authenticate_unknown: bool = False
        self._rules: list[AccessRule] = []
        self.default_allowed: bool = True
        self.authenticator: TokenAuthenticator | None = None
        self.authorizer: Authorizer | None = None

    def lookup(self, token: str) -> User | None:
        with self._lock:
            for known, user in self._tokens.items():
                if identity.same_secret(token, known):
                    return user
        return None

    def add_token(self, token: str, user: User) -> None:
        with self._lock:
            self._tokens[token] = user

    def clear_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def set_rules(self, rules: list[AccessRule], *, default_allowed: bool = True) -> None:
        with self._lock:
            self._rules = list(rules)
            self.default_allowed = default_allowed

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "tokens": len(self._tokens),
                "authenticateUnknown": self.authenticate_unknown,
                "defaultAllowed": self.default_allowed,
                "rules": [r.__dict__ | {"apiGroup": r.api_group} for r in self._rules],
            }

    def token_review(self, body: dict[str, Any]) -> dict[str, Any]:
        spec = body.get("spec") or {}
        token = spec.get("token")
        if not isinstance(token, str) or not token:
            raise errors.invalid("TokenReview", "authentication.k8s.io", "",
                                 [errors.FieldError(errors.CauseType.REQUIRED, "spec.token", "Required value")])
        wanted = tuple(str(a) for a in spec.get("audiences") or ()) or identity.API_AUDIENCES
        audiences = wanted
        user = self.lookup(token)
        error = "token not recognised"
        if user is None and self.authenticator is not None:
            try:
                found = self.authenticator(token, wanted)
            except identity.TokenError as exc:
                found, error = None, str(exc)
            if found is not None:
                user, audiences = found
        if user is None and self.authenticate_unknown:
            user = User("system:serviceaccount:default:default", groups=("system:serviceaccounts", "system:authenticated"))
        status: dict[str, Any] = {"authenticated": user is not None}
        if user is not None:
            status["user"] = user.render()
            status["audiences"] = list(audiences)
        else:
            status["user"] = {}
            status["error"] = error
        out = {k: v for k, v in body.items() if k != "spec"}
        out["spec"] = {k: v for k, v in spec.items() if k != "token"}  # never echo the secret
        out["status"] = status
        return out

    def access_review(self, body: dict[str, Any], requester: User | None = None) -> dict[str, Any]:
        spec = dict(body.get("spec") or {})
        if requester is not None:
            # A SelfSubjectAccessReview speaks for the caller, whatever the body says.
            spec.update(user=requester.username, groups=list(requester.groups), uid=requester.uid,
                        extra={k: list(v) for k, v in requester.extra.items()})
        if not spec.get("resourceAttributes") and not spec.get("nonResourceAttributes"):
            raise errors.invalid(str(body.get("kind") or "SubjectAccessReview"), "authorization.k8s.io", "", [
                errors.FieldError(errors.CauseType.INVALID, "spec.resourceAttributes",
                                  "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified")
            ])
        with self._lock:
            rule = next((r for r in self._rules if r.matches(spec)), None)
        decision = None if rule is not None or self.authorizer is None else self.authorizer(review_attributes(spec))
        if decision is not None:
            status: dict[str, Any] = {"allowed": decision.allowed}
            if decision.reason:
                status["reason"] = decision.reason
        else:
            allowed = rule.allowed if rule else self.default_allowed
            status = {"allowed": allowed}
            if rule and rule.reason:
                status["reason"] = rule.reason
            if not allowed:
                status["denied"] = rule is not None
        out = dict(body)
        out["status"] = status
        return out


def review_attributes(spec: Mapping[str, Any]) -> rbac.Attributes:
    """The authorizer attributes a SubjectAccessReview spec asks about."""
    extra = {str(k): tuple(str(x) for x in v or ()) for k, v in (spec.get("extra") or {}).items()}
    user = User(str(spec.get("user") or ""), str(spec.get("uid") or ""), tuple(str(g) for g in spec.get("groups") or ()),
                extra)
    attrs = spec.get("resourceAttributes")
    if isinstance(attrs, Mapping):
        return rbac.Attributes(user, str(attrs.get("verb") or ""), True, str(attrs.get("group") or ""),
                               str(attrs.get("version") or ""), str(attrs.get("resource") or ""),
                               str(attrs.get("subresource") or ""), str(attrs.get("namespace") or ""),
                               str(attrs.get("name") or ""))
    other = spec.get("nonResourceAttributes") or {}
    return rbac.Attributes(user, str(other.get("verb") or ""), False, path=str(other.get("path") or ""))
