"""Free loopback ports for the suite's servers.

Ports are drawn at random below the kernel's ephemeral range, so they cannot collide with the local
ports the kernel hands to outgoing connections, and each is checked by binding it. Another process can
still take a port between the check and the server's bind; `process.start_with_retries` handles that by
starting again on fresh ports.
"""

import random
import socket
from pathlib import Path

HOST = "127.0.0.1"

_LOWEST = 20000
_handed_out: set[int] = set()


def _ephemeral_start() -> int:
    """The first port of the kernel's ephemeral range (32768 unless configured otherwise)."""
    try:
        first = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
        return int(first)
    except (OSError, ValueError, IndexError):
        return 32768


def is_free(port: int, host: str = HOST) -> bool:
    """Whether nothing is bound to `host:port` right now (no SO_REUSEADDR: TIME_WAIT counts as taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST) -> int:
    """A port on `host` that is free now and was not handed out before in this process."""
    highest = _ephemeral_start() - 1
    if highest <= _LOWEST:
        highest = 32767
    for _ in range(200):
        port = random.randint(_LOWEST, highest)
        if port not in _handed_out and is_free(port, host):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port found on {host} between {_LOWEST} and {highest}")
