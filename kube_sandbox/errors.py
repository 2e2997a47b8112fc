"""API errors as the Kubernetes API reports them: an exception carrying a `Status` object.

Every failure the sandbox answers with is one of these, so clients see the same `code`, `reason`,
`message` and `details` a real kube-apiserver would send (the messages follow its wording).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class Reason(str, enum.Enum):
    """`Status.reason` values (metav1.StatusReason)."""

    NOT_FOUND = "NotFound"
    ALREADY_EXISTS = "AlreadyExists"
    CONFLICT = "Conflict"
    INVALID = "Invalid"
    BAD_REQUEST = "BadRequest"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    GONE = "Gone"
    EXPIRED = "Expired"
    TOO_MANY_REQUESTS = "TooManyRequests"
    INTERNAL_ERROR = "InternalError"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    FORBIDDEN = "Forbidden"
    UNAUTHORIZED = "Unauthorized"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    NOT_ACCEPTABLE = "NotAcceptable"


class CauseType(str, enum.Enum):
    """`StatusCause.reason` values used for field errors."""

    REQUIRED = "FieldValueRequired"
    INVALID = "FieldValueInvalid"
    NOT_SUPPORTED = "FieldValueNotSupported"
    FORBIDDEN = "FieldValueForbidden"
    DUPLICATE = "FieldValueDuplicate"
    TOO_LONG = "FieldValueTooLong"
    TOO_MANY = "FieldValueTooMany"
    TYPE_INVALID = "FieldValueTypeInvalid"
    UNKNOWN = "FieldValueUnknown"


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: rendered as `<field>: <message>` like apimachinery's field.Error."""

    type: CauseType
    field: str
    message: str

    def render(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ApiError(Exception):
    """A request failed; `status()` is the body to send."""

    def __init__(
        self,
        code: int,
        reason: Reason,
        message: str,
        *,
        name: str | None = None,
        group: str | None = None,
        kind: str | None = None,
        uid: str | None = None,
        causes: Sequence[FieldError] = (),
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.uid = uid
        self.causes = tuple(causes)
        self.retry_after = retry_after

    def status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.name is not None:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.uid is not None:
            details["uid"] = self.uid
        if self.causes:
            details["causes"] = [
                {"reason": c.type.value, "message": c.message, "field": c.field} for c in self.causes
            ]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason.value,
            "code": self.code,
        }
        if details:
            body["details"] = details
        return body


def qualified(plural: str, group: str) -> str:
    """`deployments.apps`, or `pods` for the core group: how the API names a resource in messages."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        404, Reason.NOT_FOUND, f'{qualified(plural, group)} "{name}" not found', name=name, group=group, kind=plural
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        Reason.ALREADY_EXISTS,
        f'{qualified(plural, group)} "{name}" already exists',
        name=name,
        group=group,
        kind=plural,
    )


def conflict(plural: str, group: str, name: str, detail: str | None = None) -> ApiError:
    why = detail or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(
        409,
        Reason.CONFLICT,
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {why}',
        name=name,
        group=group,
        kind=plural,
    )


def invalid(kind: str, group: str, name: str, errors: Sequence[FieldError]) -> ApiError:
    rendered = [e.render() for e in errors]
    summary = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    qualified_kind = f"{kind}.{group}" if group else kind
    return ApiError(
        422,
        Reason.INVALID,
        f'{qualified_kind} "{name}" is invalid: {summary}',
        name=name,
        group=group,
        kind=kind,
        causes=errors,
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, Reason.BAD_REQUEST, message)


def forbidden(plural: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        403,
        Reason.FORBIDDEN,
        f'{qualified(plural, group)} "{name}" is forbidden: {why}',
        name=name,
        group=group,
        kind=plural,
    )


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(405, Reason.METHOD_NOT_ALLOWED, message)


def unknown_path() -> ApiError:
    return ApiError(404, Reason.NOT_FOUND, "the server could not find the requested resource")


def expired(requested: int, oldest: int) -> ApiError:
    return ApiError(410, Reason.EXPIRED, f"too old resource version: {requested} ({oldest})")


def unsupported_media_type(content_type: str, accepted: Sequence[str]) -> ApiError:
    return ApiError(
        415,
        Reason.UNSUPPORTED_MEDIA_TYPE,
        f'the body of the request was in an unknown format "{content_type}" - accepted media types include: '
        + ", ".join(accepted),
    )


def unprocessable_patch(detail: str) -> ApiError:
    # What the API answers when a JSON patch cannot be applied (including a failed `test` op).
    return ApiError(
        422,
        Reason.INVALID,
        f"the server rejected our request due to an error in our request: {detail}",
    )
