"""A raw HTTP client for the sandbox tests: it shows exactly what the server answers (status, body, headers)."""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """A tiny raw HTTP client: what a test needs to see exactly what the server answers."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 80
        self.token = token

    def _headers(self, content_type: str | None, accept: str | None) -> dict[str, str]:
        headers = {"Accept": accept or "application/json", "User-Agent": "sandbox-tests/1.0"}
        if content_type:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def request(self, method: str, path: str, body: Any = None, *, content_type: str | None = None,
                accept: str | None = None, raw: bytes | None = None) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            if data is not None and content_type is None:
                content_type = "application/json"
            conn.request(method, path, body=data, headers=self._headers(content_type, accept))
            response = conn.getresponse()
            payload = response.read()
            headers = {k: v for k, v in response.getheaders()}
            try:
                decoded = json.loads(payload) if payload else None
            except ValueError:
                decoded = payload.decode()
            return Reply(response.status, decoded, headers)
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Reply:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any, kind: str = "merge", **kw: Any) -> Reply:
        types = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                 "strategic": "application/strategic-merge-patch+json", "apply": "application/apply-patch+yaml"}
        return self.request("PATCH", path, body, content_type=types[kind], **kw)

    def delete(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("DELETE", path, body, **kw)

    def watch(self, path: str, *, count: int | None = None, seconds: float = 5.0) -> tuple[list[dict[str, Any]], bool]:
        """Read watch events until `count` arrived, the stream ended or `seconds` passed.

        Returns the events and whether the server ended the stream cleanly with the terminating chunk
        (False: still open when we stopped, or broken off). The chunked framing is parsed here because
        http.client reports a broken stream and a clean end alike.
        """
        deadline = time.monotonic() + seconds
        sock = socket.create_connection((self.host, self.port), timeout=seconds)
        events: list[dict[str, Any]] = []
        ended = False
        try:
            headers = "".join(f"{k}: {v}\r\n" for k, v in self._headers(None, None).items())
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{headers}\r\n".encode())
            stream = sock.makefile("rb")
            status_line = stream.readline()
            assert b" 200 " in status_line, status_line
            while stream.readline() not in (b"\r\n", b""):
                pass
            pending = b""
            while (count is None or len(events) < count) and time.monotonic() < deadline:
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                try:
                    size_line = stream.readline()
                except (TimeoutError, OSError):
                    break
                if not size_line.strip():
                    break  # connection closed without the terminating chunk
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    ended = True
                    break
                chunk = stream.read(size)
                stream.readline()
                if len(chunk) < size:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                events.extend(json.loads(line) for line in lines if line.strip())
        finally:
            sock.close()
        return events[:count] if count is not None else events, ended


def eventually(check: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll `check` until it returns a truthy value (or stops raising AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s: last result {result!r}")
        time.sleep(interval)
