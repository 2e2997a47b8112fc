"""Connections shared between triggers that point at the same server with the same credentials.

A scaler asks for a client by a key that identifies the server and the credentials (for example
`("redis", "127.0.0.1", 6379, 0, username, password_digest, tls)`); the first user opens it, later users
share it, and the last one to release it closes it. Keys may hold credential digests; they are never
logged or shown.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def digest(secret: str | None) -> str | None:
    """A stable stand-in for a credential inside a sharing key, so keys hold no plaintext secret."""
    if secret is None:
        return None
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclasses.dataclass
class _Entry:
    client: Any
    close: Callable[[Any], Awaitable[None]]
    users: int


class Lease(Generic[T]):
    """One user's hold on a shared client. `release()` is idempotent."""

    def __init__(self, pool: SharedClients, key: Hashable, client: T) -> None:
        self._pool = pool
        self._key = key
        self.client = client
        self._released = False

    async def release(self) -> None:
        if not self._released:
            self._released = True
            await self._pool._release(self._key)


class SharedClients:
    """Reference-counted clients by key. Safe for concurrent `acquire` of the same key."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}
        self._opening: dict[Hashable, asyncio.Lock] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def users(self, key: Hashable) -> int:
        entry = self._entries.get(key)
        return entry.users if entry else 0

    async def acquire(
        self,
        key: Hashable,
        open_client: Callable[[], Awaitable[T]],
        close_client: Callable[[T], Awaitable[None]],
    ) -> Lease[T]:
        entry = self._entries.get(key)
        if entry is None:
            lock = self._opening.setdefault(key, asyncio.Lock())
            try:
                async with lock:
                    entry = self._entries.get(key)
                    if entry is None:
                        client = await open_client()
                        entry = _Entry(client, close_client, 0)
                        self._entries[key] = entry
            finally:
                # Forget the lock once nobody waits on it, whether opening worked or failed.
                if not lock.locked() and self._opening.get(key) is lock:
                    del self._opening[key]
        entry.users += 1
        return Lease(self, key, entry.client)

    async def _release(self, key: Hashable) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return
        entry.users -= 1
        if entry.users <= 0:
            del self._entries[key]
            await entry.close(entry.client)

    async def aclose(self) -> None:
        """Close every client regardless of users (operator shutdown)."""
        entries, self._entries = self._entries, {}
        for entry in entries.values():
            await entry.close(entry.client)
