"""Small blocking network checks and HTTP calls used to tell when a server is ready, standard library only.

Every check takes a short timeout and returns False (or raises OSError) rather than hang, so the
readiness loop in `process.py` keeps its deadline.
"""

import base64
import http.client
import json
import socket
import urllib.error
import urllib.request
from typing import Any

TIMEOUT = 2.0
# Socket checks answer in microseconds when the server is ours; a listener that never answers (not ours)
# must not hold the readiness loop for long.
SOCKET_TIMEOUT = 1.0


def tcp_accepts(host: str, port: int) -> bool:
    """Whether a TCP connection to `host:port` is accepted."""
    try:
        with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT):
            return True
    except OSError:
        return False


def exchange(host: str, port: int, request: bytes, expect: int) -> bytes:
    """Send `request` on a new connection and read up to `expect` bytes (fewer if the peer closes)."""
    with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT) as connection:
        connection.sendall(request)
        received = b""
        while len(received) < expect:
            chunk = connection.recv(expect - len(received))
            if not chunk:
                break
            received += chunk
        return received


def basic_auth(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


def http_json(
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    authorization: str | None = None,
    timeout: float = TIMEOUT,
) -> tuple[int, Any]:
    """Call `url`; the status and the decoded JSON body (None if the body is empty or not JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
        error.close()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def http_ok(url: str, authorization: str | None = None) -> bool:
    """Whether `url` answers 200."""
    try:
        status, _ = http_json(url, authorization=authorization)
    except (OSError, http.client.HTTPException):
        # A server still starting may accept and then drop or garble the request.
        return False
    return status == 200
