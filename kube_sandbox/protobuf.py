"""Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`), for the kinds
typed clients send that way.

client-go's typed clients (helm's release storage among them: Secrets, ConfigMaps) encode built-in
objects as protobuf; kube-apiserver accepts that for every built-in type. The sandbox decodes the kinds
those clients write — Secret, ConfigMap and DeleteOptions — into the same JSON-shaped dicts a JSON body
gives, and answers `415` for any other kind, naming it. Answers stay JSON (clients list JSON in Accept).

The envelope is the 4-byte magic `k8s\\0` then a `runtime.Unknown` message (typeMeta = 1, raw = 2,
contentEncoding = 3, contentType = 4); `raw` holds the typed message. Field numbers below are those of
k8s.io/api's generated.proto files.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable, Iterator
from typing import Any

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"


class DecodeError(ValueError):
    """The body is not a protobuf message the sandbox can read (the message says which part)."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if at >= len(data):
            raise DecodeError("truncated varint")
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, at
        shift += 7
        if shift > 63:
            raise DecodeError("varint longer than 64 bits")


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs: an int for varints, bytes for length-delimited fields."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
            yield number, value
        elif wire == 2:
            length, at = _varint(data, at)
            if at + length > len(data):
                raise DecodeError(f"field {number}: length {length} runs past the end of the message")
            yield number, data[at : at + length]
            at += length
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        else:
            raise DecodeError(f"field {number}: unsupported wire type {wire}")


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise DecodeError("expected a string, got a number")
    return value.decode("utf-8")


def _int(value: int | bytes) -> int:
    if isinstance(value, bytes):
        raise DecodeError("expected a number, got bytes")
    return value - (1 << 64) if value >= 1 << 63 else value


def _entry(value: int | bytes) -> tuple[str, bytes]:
    if not isinstance(value, bytes):
        raise DecodeError("expected a map entry")
    key, item = "", b""
    for number, part in _fields(value):
        if number == 1:
            key = _text(part)
        elif number == 2 and isinstance(part, bytes):
            item = part
    return key, item


def _time(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise DecodeError("expected a Time message")
    seconds = 0
    for number, part in _fields(value):
        if number == 1:
            seconds = _int(part)
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner_reference(value: int | bytes) -> dict[str, Any]:
    if not isinstance(value, bytes):
        raise DecodeError("expected an OwnerReference message")
    names = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion"}
    flags = {6: "controller", 7: "blockOwnerDeletion"}
    out: dict[str, Any] = {}
    for number, part in _fields(value):
        if number in names:
            out[names[number]] = _text(part)
        elif number in flags:
            out[flags[number]] = bool(_int(part))
    return out


_META_TEXT = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}


def _object_meta(value: int | bytes) -> dict[str, Any]:
    if not isinstance(value, bytes):
        raise DecodeError("metadata: expected an ObjectMeta message")
    meta: dict[str, Any] = {}
    for number, part in _fields(value):
        if number in _META_TEXT:
            meta[_META_TEXT[number]] = _text(part)
        elif number == 7:
            meta["generation"] = _int(part)
        elif number == 8:
            meta["creationTimestamp"] = _time(part)
        elif number in (11, 12):
            key, item = _entry(part)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = item.decode("utf-8")
        elif number == 13:
            meta.setdefault("ownerReferences", []).append(_owner_reference(part))
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(part))
    return meta


def _secret(raw: bytes) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            body["metadata"] = _object_meta(part)
        elif number == 2:
            key, item = _entry(part)
            body.setdefault("data", {})[key] = base64.b64encode(item).decode("ascii")
        elif number == 3:
            body["type"] = _text(part)
        elif number == 4:
            key, item = _entry(part)
            body.setdefault("stringData", {})[key] = item.decode("utf-8")
        elif number == 5:
            body["immutable"] = bool(_int(part))
    return body


def _config_map(raw: bytes) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            body["metadata"] = _object_meta(part)
        elif number == 2:
            key, item = _entry(part)
            body.setdefault("data", {})[key] = item.decode("utf-8")
        elif number == 3:
            key, item = _entry(part)
            body.setdefault("binaryData", {})[key] = base64.b64encode(item).decode("ascii")
        elif number == 4:
            body["immutable"] = bool(_int(part))
    return body


def _delete_options(raw: bytes) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            body["gracePeriodSeconds"] = _int(part)
        elif number == 2 and isinstance(part, bytes):
            names = {1: "uid", 2: "resourceVersion"}
            body["preconditions"] = {names[n]: _text(p) for n, p in _fields(part) if n in names}
        elif number == 3:
            body["orphanDependents"] = bool(_int(part))
        elif number == 4:
            body["propagationPolicy"] = _text(part)
        elif number == 5:
            body.setdefault("dryRun", []).append(_text(part))
    return body


_DECODERS: dict[tuple[str, str], Callable[[bytes], dict[str, Any]]] = {
    ("v1", "Secret"): _secret,
    ("v1", "ConfigMap"): _config_map,
    ("v1", "DeleteOptions"): _delete_options,
    ("meta.k8s.io/v1", "DeleteOptions"): _delete_options,
}


class UnsupportedKind(DecodeError):
    """A well-formed envelope of a kind the sandbox does not decode."""


def decode(body: bytes) -> dict[str, Any]:
    """The JSON-shaped object in a protobuf request body."""
    if not body.startswith(MAGIC):
        raise DecodeError("the body does not start with the protobuf envelope's magic bytes k8s\\0")
    api_version = kind = ""
    raw = b""
    for number, part in _fields(body[len(MAGIC) :]):
        if number == 1 and isinstance(part, bytes):
            for n, p in _fields(part):
                if n == 1:
                    api_version = _text(p)
                elif n == 2:
                    kind = _text(p)
        elif number == 2 and isinstance(part, bytes):
            raw = part
    decoder = _DECODERS.get((api_version, kind))
    if decoder is None:
        raise UnsupportedKind(f"{api_version or '?'}/{kind or '?'}")
    try:
        obj = decoder(raw)
    except UnicodeDecodeError as error:
        raise DecodeError(f"{kind}: a string field is not UTF-8: {error}") from error
    return {"apiVersion": api_version, "kind": kind, **obj}
