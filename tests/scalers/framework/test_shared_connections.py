"""Shared connections (`scalers.connections`): one client per key, shared by its users, closed when the
last user releases it, opened once however many users ask at the same moment."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import pytest

from scalers import connections


@dataclasses.dataclass
class Client:
    key: str
    closed: bool = False


class Opener:
    """Opens `Client`s, counting opens and closes; `delay` makes opening take (virtual) time."""

    def __init__(self, delay: float = 0.0) -> None:
        self.opened: list[Client] = []
        self.closed: list[Client] = []
        self.delay = delay

    def open_for(self, key: str) -> Callable[[], Awaitable[Client]]:
        async def open_client() -> Client:
            if self.delay:
                await asyncio.sleep(self.delay)
            client = Client(key)
            self.opened.append(client)
            return client

        return open_client

    async def close(self, client: Client) -> None:
        client.closed = True
        self.closed.append(client)


async def test_users_of_one_key_share_one_client() -> None:
    pool, opener = connections.SharedClients(), Opener()
    a = await pool.acquire("k", opener.open_for("k"), opener.close)
    b = await pool.acquire("k", opener.open_for("k"), opener.close)
    other = await pool.acquire("other", opener.open_for("other"), opener.close)
    assert a.client is b.client
    assert other.client is not a.client
    assert len(opener.opened) == 2
    assert (len(pool), pool.users("k"), pool.users("other"), pool.users("none")) == (2, 2, 1, 0)


async def test_the_last_release_closes() -> None:
    pool, opener = connections.SharedClients(), Opener()
    a = await pool.acquire("k", opener.open_for("k"), opener.close)
    b = await pool.acquire("k", opener.open_for("k"), opener.close)
    await a.release()
    assert not a.client.closed and pool.users("k") == 1
    await a.release()  # idempotent: does not take b's share
    assert pool.users("k") == 1
    await b.release()
    assert b.client.closed and len(pool) == 0
    again = await pool.acquire("k", opener.open_for("k"), opener.close)
    assert again.client is not a.client and len(opener.opened) == 2


@pytest.mark.looptime
async def test_concurrent_acquires_open_once() -> None:
    pool, opener = connections.SharedClients(), Opener(delay=1.0)
    leases = await asyncio.gather(*(pool.acquire("k", opener.open_for("k"), opener.close) for _ in range(50)))
    assert len(opener.opened) == 1
    assert {id(lease.client) for lease in leases} == {id(opener.opened[0])}
    assert pool.users("k") == 50
    for lease in leases:
        await lease.release()
    assert opener.closed == opener.opened


async def test_a_failed_open_leaves_nothing_behind() -> None:
    pool, opener = connections.SharedClients(), Opener()

    async def refuse() -> Client:
        raise ConnectionRefusedError("no server")

    with pytest.raises(ConnectionRefusedError):
        await pool.acquire("k", refuse, opener.close)
    assert len(pool) == 0
    assert pool._opening == {}  # no lock is left behind for the key
    lease = await pool.acquire("k", opener.open_for("k"), opener.close)
    assert pool.users("k") == 1 and lease.client.key == "k"


async def test_aclose_closes_everything() -> None:
    pool, opener = connections.SharedClients(), Opener()
    await pool.acquire("a", opener.open_for("a"), opener.close)
    await pool.acquire("b", opener.open_for("b"), opener.close)
    await pool.aclose()
    assert len(pool) == 0 and sorted(c.key for c in opener.closed) == ["a", "b"]


def test_digest_hides_the_secret() -> None:
    digest = connections.digest("hunter2")
    assert digest is not None and "hunter2" not in digest and len(digest) == 64
    assert connections.digest("hunter2") == digest and connections.digest(None) is None
