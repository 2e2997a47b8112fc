"""Sending raw bytes to an HTTP(S) port, as a port scanner or a broken client would."""

from __future__ import annotations

import asyncio
import contextlib
import ssl


async def send(port: int, payload: bytes, *, tls: bool = False) -> bytes:
    """PAYLOAD to 127.0.0.1:PORT (after a TLS handshake that trusts anything, with `tls`); the first bytes back."""
    context: ssl.SSLContext | None = None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    writer.write(payload)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(100), 5)
    writer.close()
    # A TLS server may drop the session without a close_notify after a 400.
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await writer.wait_closed()
    return answer
