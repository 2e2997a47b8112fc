"""The decision log: the last decisions each ScaledObject's scale loop made, in a bounded ring per object.

Every tick the loop records one JSON-ready entry (time, inputs per trigger, state, action, reason, the
one-line explanation, replicas…); the HTTP server serves them as JSON for people and the dashboard. The
log lives in memory only: it explains recent behaviour, it is not an audit trail.

Recording is on the hot path (1,000 loops at 1 s). An entry is serialised once to compact JSON text,
redacted on that text, and stored deflated with the object's first entry as the preset dictionary: one
object's decisions share almost all of their text, so a 550-byte entry keeps as ~50 bytes (~5 µs to
deflate, ~1 µs to inflate when served). Nothing the caller changes later leaks in. Memory is bounded
twice: `capacity_per_object` entries per object, and about `max_bytes` in all, counting each stored
entry's real size (when over, an object recording beyond its fair share `max_bytes / objects` drops its
own oldest entries).

A decision that repeats the previous one in everything but its time (an idle object polling an empty
queue decides "no change" every second) is not stored again: the stored entry becomes a run, shown
with `"repeated": n` (how many decisions it stands for) and `lastTime`/`lastTimestamp` (the newest
one's), so 1,000 idle objects cost one entry each, not a ring full of copies.

One asyncio loop owns a log; nothing here awaits, so no lock is needed.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import sys
import zlib
from collections.abc import Mapping
from typing import Any

DEFAULT_CAPACITY = 500
# About 160 entries of a busy one-trigger loop per object at 1,000 objects; all 500 up to ~300 objects.
DEFAULT_MAX_BYTES = 16 * 2**20
# Raw deflate with an 8 KiB window (the preset dictionary must fit in it) and a small state: creating
# the compressor for each entry is then cheap.
_WBITS = 13
_MEM_LEVEL = 4
# What storing one entry costs beyond its deflated bytes: the bytes object's header and the ring's slot.
_ENTRY_OVERHEAD = sys.getsizeof(b"") + 8
MASK = "***"

# `://userinfo@`: the userinfo runs to the last `@` before the path, so an unencoded `@` in a password is
# masked whole. Anchored on the literal `://`, which the regex engine finds fast; the scheme is kept.
_URL_USERINFO = re.compile(r"://(?P<userinfo>[^/\s@?#\"]*(?:@[^/\s@?#\"]*)*)@")
# A bare `user:password@host` (an error message quoting a DSN without its scheme) is found from its `@`:
# the token before it starts after one of these (or at the start of the text) …
_BARE_OPENERS = frozenset(" \t\r\n\"'(=,[{")
# … and may hold none of these.
_BARE_STOPS = _BARE_OPENERS | frozenset("@/")
# Keys whose value is a credential whatever it looks like.
_SECRET_WORDS = r"secret|token|api[-_]?key|authorization|credential|private[-_]?key"
_SECRET_KEY = re.compile(rf"pass(word|wd)?$|{_SECRET_WORDS}", re.IGNORECASE)
# The same keys in compact JSON text, with a string value: `"apiKey":"…"`. A key is the only JSON string
# followed by `:`. The text is walked string by string (`_JSON_STRING`, each character read once):
# a single regex for "a key holding a word, then its value" backtracks quadratically over a long
# value full of `token`s, which a hostile parameter quoted in an entry could be (issue 9).
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SECRET_HINTS = ("pass", "secret", "token", "key", "authorization", "credential")


def _mask_url(match: re.Match[str]) -> str:
    return f"://{MASK}:{MASK}@" if ":" in match.group("userinfo") else f"://{MASK}@"


_BARE_TOKEN_REVERSED = re.compile("[^" + re.escape("".join(sorted(_BARE_STOPS))) + "]*")


def _mask_bare(text: str) -> str:
    pieces: list[str] = []
    done = 0
    previous = 0  # just after the previous `@`: a token never reaches back past it (`@` is a stop)
    at = text.find("@")
    while at != -1:
        # The token before the `@`, found by matching forwards on the reversed text since the last `@`
        # (linear: a per-character loop cost a second on a hostile 1.5 MB text).
        before = text[max(done, previous):at]
        previous = at + 1
        start = at - _BARE_TOKEN_REVERSED.match(before[::-1]).end()  # type: ignore[union-attr]
        token = text[start:at]
        user, colon, password = token.partition(":")
        if (colon and user and password and (start == 0 or text[start - 1] in _BARE_OPENERS)
                and at + 1 < len(text) and (text[at + 1].isalnum() or text[at + 1] in "_[")):
            pieces.append(text[done:start])
            pieces.append(f"{MASK}:{MASK}")
            done = at
        at = text.find("@", at + 1)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def redact_text(text: str) -> str:
    """`text` with the userinfo of every URL (`scheme://user:pass@`, `scheme://:pass@`, `scheme://token@`)
    and every bare `user:pass@host` masked."""
    if "@" not in text:  # the common case, and cheap
        return text
    return _mask_bare(_URL_USERINFO.sub(_mask_url, text))


def _redacted(value: Any) -> Any:
    """`value` with credentials masked; the same object when nothing needed masking."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            new_key = redact_text(key) if isinstance(key, str) else key
            if isinstance(key, str) and isinstance(item, str) and item and _SECRET_KEY.search(key):
                new_item: Any = MASK
            else:
                new_item = _redacted(item)
            if changed is None and (new_key is not key or new_item is not item):
                changed = {}
                for done_key, done_item in value.items():
                    if done_key is key:
                        break
                    changed[done_key] = done_item
            if changed is not None:
                changed[new_key] = new_item
        return value if changed is None else changed
    if isinstance(value, list | tuple):
        items = [_redacted(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items
    return value


def redact(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `entry` in which no credential survives: URL userinfo in any string (keys included) is
    masked, and string values under credential-like keys (`password`, `token`, `apiKey`…) are replaced.

    A safety net: the scale loop should never put a secret in an entry in the first place.
    """
    result = _redacted(entry)
    return dict(result) if result is entry else result


def redact_json(text: str) -> str:
    """Compact JSON text (`separators=(",", ":")`) with the same masking as `redact`."""
    masked = redact_text(text)
    lowered = masked.lower()
    if not any(hint in lowered for hint in _SECRET_HINTS):  # the common case: skip the walk
        return masked
    pieces: list[str] = []
    done = 0
    secret_key_end = -1  # where the value of a credential-like key would start
    for match in _JSON_STRING.finditer(masked):
        start, end = match.span()
        if start == secret_key_end and end - start > 2:
            pieces.append(masked[done:start])
            pieces.append(f'"{MASK}"')
            done = end
            secret_key_end = -1
            continue
        secret_key_end = -1
        if masked.startswith(":", end):
            key = match.group()[1:-1]
            if "\\" not in key and _SECRET_KEY.search(key):
                secret_key_end = end + 1
    if not pieces:
        return masked
    pieces.append(masked[done:])
    return "".join(pieces)


def _dumps(entry: Mapping[str, Any]) -> str:
    # default=str: a stray datetime or exception in an entry is shown, not a crash of the loop.
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False, default=str)


# Keys that differ between decisions that are otherwise the same (top level, and per trigger).
_TIME_KEYS = frozenset({"time", "timestamp"})
_TRIGGER_TIME_KEYS = frozenset({"latencySeconds"})


def _same_decision(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two entries differ at most in their times (and the triggers' poll latencies)."""
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        if key in _TIME_KEYS:
            continue
        other = b[key]
        if key == "triggers" and isinstance(value, list) and isinstance(other, list):
            if len(value) != len(other):
                return False
            for x, y in zip(value, other, strict=True):
                if not (isinstance(x, Mapping) and isinstance(y, Mapping)):
                    if x != y:
                        return False
                elif x.keys() != y.keys() or any(
                    x[k] != y[k] for k in x if k not in _TRIGGER_TIME_KEYS
                ):
                    return False
        elif value != other:
            return False
    return True


def _copy(value: Any) -> Any:
    """A copy of the JSON-shaped containers in `value` (what the log keeps to compare the next entry with)."""
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(item) for item in value]
    return value


def _with_run(text: str, repeated: int, last: Mapping[str, Any]) -> str:
    """An entry's text extended with the run it stands for."""
    extra = _dumps({"repeated": repeated, "lastTime": last.get("time"), "lastTimestamp": last.get("timestamp")})
    return text[:-1] + "," + extra[1:]


class _Ring:
    __slots__ = ("blobs", "last", "nbytes", "records", "reference", "repeated", "run_last")

    def __init__(self) -> None:
        self.blobs: collections.deque[bytes] = collections.deque()
        self.nbytes = 0
        self.reference = b""  # the preset dictionary: the first entry this object recorded
        self.last: Mapping[str, Any] | None = None  # the newest entry as recorded (to spot repeats)
        self.repeated = 1  # how many decisions the newest entry stands for
        self.run_last: Mapping[str, Any] | None = None  # the newest repeat's times
        self.records = 0  # decisions recorded so far (the dashboard's cache key)

    def pack(self, text: str) -> bytes:
        data = text.encode()
        packer = zlib.compressobj(6, zlib.DEFLATED, -_WBITS, _MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY, self.reference)
        return packer.compress(data) + packer.flush()

    def unpack(self, blob: bytes) -> str:
        unpacker = zlib.decompressobj(-_WBITS, self.reference)
        return (unpacker.decompress(blob) + unpacker.flush()).decode()

    def newest_text(self) -> str:
        """The newest entry's text with its run, if it stands for more than one decision."""
        text = self.unpack(self.blobs[-1])
        if self.repeated > 1 and self.run_last is not None:
            return _with_run(text, self.repeated, self.run_last)
        return text


def _cost(blob: bytes) -> int:
    return len(blob) + _ENTRY_OVERHEAD


class DecisionLog:
    """The last decisions of each ScaledObject, oldest first.

    >>> log = DecisionLog(capacity_per_object=2)
    >>> for n in range(3):
    ...     log.record("default", "orders", {"replicas": n})
    >>> log.entries("default", "orders")
    [{'replicas': 1}, {'replicas': 2}]
    """

    def __init__(self, capacity_per_object: int = DEFAULT_CAPACITY, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        for what, value in (("capacity_per_object", capacity_per_object), ("max_bytes", max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DecisionLog: {what} must be a positive integer, got {value!r}")
        self.capacity_per_object = capacity_per_object
        self.max_bytes = max_bytes
        self._rings: dict[tuple[str, str], _Ring] = {}
        self._nbytes = 0

    @property
    def nbytes(self) -> int:
        """The memory of all kept entries as the `max_bytes` budget counts it (deflated bytes and their
        per-entry overhead, and each object's preset dictionary)."""
        return self._nbytes

    def record(self, namespace: str, name: str, entry: Mapping[str, Any], *, handed_over: bool = False) -> None:
        """Append one decision for `namespace/name` (redacted), dropping its oldest when over a bound.

        `handed_over`: the caller never changes `entry` (or anything in it) again, so the log keeps it to
        compare the next decision with instead of a copy (the scale loop builds a new one every tick).
        Raises `TypeError` / `ValueError` from `json.dumps` for an entry that is not JSON-ready (circular)."""
        key = (namespace, name)
        ring = self._rings.get(key)
        if ring is None:
            ring = self._rings[key] = _Ring()
        ring.records += 1
        if ring.blobs and ring.last is not None and _same_decision(entry, ring.last):
            ring.repeated += 1
            ring.run_last = {k: entry.get(k) for k in _TIME_KEYS}
            return
        text = redact_json(_dumps(entry))
        if ring.repeated > 1:
            self._seal_run(ring)
        ring.last = entry if handed_over else _copy(entry)
        if not ring.reference:
            ring.reference = text.encode()[-(1 << _WBITS):]
            self._grow(ring, len(ring.reference))
        blob = ring.pack(text)
        ring.blobs.append(blob)
        self._grow(ring, _cost(blob))
        blobs = ring.blobs
        if len(blobs) > self.capacity_per_object:
            self._drop_oldest(ring)
        if self._nbytes > self.max_bytes:
            share = self.max_bytes // len(self._rings)
            while ring.nbytes > share and len(blobs) > 1:
                self._drop_oldest(ring)

    def _grow(self, ring: _Ring, size: int) -> None:
        ring.nbytes += size
        self._nbytes += size

    def _seal_run(self, ring: _Ring) -> None:
        """Write the finished run into the newest stored entry."""
        sealed = ring.pack(ring.newest_text())
        self._grow(ring, _cost(sealed) - _cost(ring.blobs[-1]))
        ring.blobs[-1] = sealed
        ring.repeated, ring.run_last = 1, None

    def _drop_oldest(self, ring: _Ring) -> None:
        self._grow(ring, -_cost(ring.blobs.popleft()))
        if not ring.blobs:
            ring.last, ring.repeated, ring.run_last = None, 1, None

    def _texts(self, namespace: str, name: str, limit: int | None) -> list[str]:
        ring = self._rings.get((namespace, name))
        if ring is None or (limit is not None and limit <= 0):
            return []
        blobs = ring.blobs
        if limit is None or limit >= len(blobs):
            chosen = [ring.unpack(blob) for blob in blobs]
        else:
            chosen = [ring.unpack(blob) for blob in itertools.islice(blobs, len(blobs) - limit, None)]
        if chosen and ring.repeated > 1:
            chosen[-1] = ring.newest_text()
        return chosen

    def entries(self, namespace: str, name: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The decisions kept for `namespace/name`, oldest first (the newest `limit` if given); [] if none.
        Fresh dicts: changing them changes nothing in the log."""
        return [json.loads(text) for text in self._texts(namespace, name, limit)]

    def entries_json(self, namespace: str, name: str, limit: int | None = None) -> str:
        """`entries` as a JSON array, straight from the stored text (what the HTTP server sends)."""
        return "[" + ",".join(self._texts(namespace, name, limit)) + "]"

    def last(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The newest decision for `namespace/name`, or None."""
        ring = self._rings.get((namespace, name))
        return json.loads(ring.newest_text()) if ring and ring.blobs else None

    def count(self, namespace: str, name: str) -> int:
        ring = self._rings.get((namespace, name))
        return len(ring.blobs) if ring is not None else 0

    def records(self, namespace: str, name: str) -> int:
        """How many decisions were recorded for `namespace/name` so far (0 if none): it changes with every
        `record`, so a reader can tell whether anything changed without reading the entries."""
        ring = self._rings.get((namespace, name))
        return ring.records if ring is not None else 0

    def __contains__(self, key: object) -> bool:
        return key in self._rings

    def objects(self) -> list[tuple[str, str]]:
        """Every `(namespace, name)` with at least one decision, sorted."""
        return sorted(self._rings)

    def forget(self, namespace: str, name: str) -> None:
        """Drop everything kept for `namespace/name` (the ScaledObject was deleted)."""
        ring = self._rings.pop((namespace, name), None)
        if ring is not None:
            self._nbytes -= ring.nbytes
