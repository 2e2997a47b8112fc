"""Throughput of the Kubernetes API sandbox: creates/s, patches/s and watch events/s.

The sandbox runs as `ebb sandbox` in its own process (kubelet off). Writes are sent over `--concurrency`
keep-alive HTTP/1.1 connections by a lean asyncio client (hand-built requests, Content-Length parsing):
on a 2-core machine a full client library such as aiohttp's would saturate its own core first and
measure itself. Watch streams are read with aiohttp. Run:

    .venv/bin/python bench/sandbox_throughput.py [--objects 4000] [--concurrency 32] [--watchers 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

import aiohttp

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()} ({platform.system()})"


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    ebb = pathlib.Path(sys.executable).parent / "ebb"
    process = subprocess.Popen([str(ebb), "sandbox", "--port", "0", "--no-kubelet"], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    banner = process.stdout.readline()
    if "listening on " not in banner:
        process.terminate()
        raise SystemExit(f"the sandbox did not start: {banner!r}")
    return process, banner.split("listening on ")[1].split()[0]


class RawConnection:
    """One keep-alive HTTP/1.1 connection sending JSON requests and reading Content-Length answers."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def open(self) -> RawConnection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def request(self, method: str, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer bench\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        length = 0
        for line in header.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def _count_events(session: aiohttp.ClientSession, url: str, wanted: int, counts: list[int], index: int,
                        ready: asyncio.Event | None = None) -> None:
    async with session.get(url) as response:
        if ready is not None:
            ready.set()
        async for chunk in response.content.iter_any():
            counts[index] += chunk.count(b"\n")
            if counts[index] >= wanted:
                return


async def _raw_writes(base: str, count: int, concurrency: int, method: str, make: object) -> float:
    """Send `count` writes over `concurrency` connections; each connection takes the next index."""
    host, port = base.split("//", 1)[1].rsplit(":", 1)
    connections = [await RawConnection(host, int(port)).open() for _ in range(concurrency)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker(connection: RawConnection) -> None:
        while True:
            try:
                n = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            path, body, content_type, expected = make(n)  # type: ignore[operator]
            status, answer = await connection.request(method, path, body, content_type)
            if status != expected:
                raise SystemExit(f"unexpected {status}: {answer[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return elapsed


def _create_request(n: int) -> tuple[str, bytes, str, int]:
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": f"cm-{n}", "labels": {"bench": "yes"}},
                       "data": {"key": "value", "n": str(n)}}).encode()
    return CONFIGMAPS, body, "application/json", 201


def _patch_request(tag: str) -> object:
    def make(n: int) -> tuple[str, bytes, str, int]:
        body = json.dumps({"data": {"n": f"{tag}-{n}"}}).encode()
        return f"{CONFIGMAPS}/cm-{n}", body, "application/merge-patch+json", 200
    return make


async def bench(base: str, objects: int, concurrency: int, watchers: int) -> None:
    connector = aiohttp.TCPConnector(limit=concurrency + watchers + 4)
    async with aiohttp.ClientSession(base_url=base, connector=connector,
                                     headers={"Authorization": "Bearer bench"}) as session:
        elapsed = await _raw_writes(base, objects, concurrency, "POST", _create_request)
        print(f"create: {objects} ConfigMaps in {elapsed:.2f} s = {objects / elapsed:,.0f} writes/s")
        elapsed = await _raw_writes(base, objects, concurrency, "PATCH", _patch_request("patched"))
        print(f"patch:  {objects} merge patches in {elapsed:.2f} s = {objects / elapsed:,.0f} writes/s")

        # Live fan-out: `watchers` open watches, then every patch is one event for each of them.
        async with session.get(CONFIGMAPS) as response:
            rv = (await response.json())["metadata"]["resourceVersion"]
        counts = [0] * watchers
        readies = [asyncio.Event() for _ in range(watchers)]
        url = f"{CONFIGMAPS}?watch=true&resourceVersion={rv}"
        tasks = [asyncio.create_task(_count_events(session, url, objects, counts, i, readies[i])) for i in range(watchers)]
        await asyncio.gather(*(r.wait() for r in readies))
        await asyncio.sleep(0.2)
        started = time.perf_counter()

        await _raw_writes(base, objects, concurrency, "PATCH", _patch_request("again"))
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        elapsed = time.perf_counter() - started
        total = sum(counts)
        print(f"watch (live): {watchers} watchers x {objects} patches = {total:,} events in {elapsed:.2f} s "
              f"= {total / elapsed:,.0f} events/s (writes meanwhile: {objects / elapsed:,.0f}/s)")

        # Replay: watches from resourceVersion 0 get every existing object as a synthetic ADDED event.
        counts = [0] * watchers
        started = time.perf_counter()
        await asyncio.gather(*(_count_events(session, f"{CONFIGMAPS}?watch=true&resourceVersion=0", objects, counts, i)
                               for i in range(watchers)))
        elapsed = time.perf_counter() - started
        total = sum(counts)
        print(f"watch (replay): {watchers} watchers x {objects} objects = {total:,} events in {elapsed:.2f} s "
              f"= {total / elapsed:,.0f} events/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--watchers", type=int, default=10)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"server: `ebb sandbox` in its own process; client: {args.concurrency} keep-alive connections "
          f"(lean asyncio HTTP/1.1 for writes, aiohttp for {args.watchers} watch streams)")
    process, base = start_sandbox()
    try:
        asyncio.run(bench(base, args.objects, args.concurrency, args.watchers))
    finally:
        process.terminate()
        process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
