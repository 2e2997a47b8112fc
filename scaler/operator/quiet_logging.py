"""Logs that a hostile tenant or a port scanner can neither flood nor forge.

* `SERVER_LOGGER` is the logger the operator's HTTP server hands aiohttp. aiohttp logs every malformed
  request (a bad method, a TLS hello on the plain port, an invalid header …) as an ERROR with a
  traceback, so anyone who can reach the port could fill the log. Through this logger such a request
  costs at most one DEBUG line (no traceback) per `GARBAGE_INTERVAL` seconds, saying how many were
  dropped since; the client still gets aiohttp's 400. Errors of the handlers themselves are untouched.
* `EscapingFilter`, installed on the handlers of the root logger by `install`, escapes control
  characters and line separators in every record's message (`problems.escape`): an object name or a
  parameter quoted in a log line cannot start a fake line or send terminal escapes. A traceback appended
  by the formatter is left as it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp import http_exceptions

from scaler.core import problems

GARBAGE_INTERVAL = 60.0


class GarbageFilter(logging.Filter):
    """Turns aiohttp's "Error handling request" for a malformed request into a rate-limited DEBUG line."""

    def __init__(self, interval: float = GARBAGE_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._next = float("-inf")
        self.dropped = 0  # malformed requests not logged since the last line

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, http_exceptions.HttpProcessingError):
            return True
        now = self._clock()
        if now < self._next:
            self.dropped += 1
            return False
        self._next = now + self.interval
        reason = str(error.message).strip().splitlines()[0] if error.message else type(error).__name__
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        dropped, self.dropped = self.dropped, 0
        record.msg = "malformed HTTP request from %s answered 400: %s (%d more not logged in the last %.0f s)"
        record.args = (peer, problems.escape(reason), dropped, self.interval)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


SERVER_LOGGER = logging.getLogger("ebb.http")
SERVER_LOGGER.addFilter(GarbageFilter())


class EscapingFilter(logging.Filter):
    """Escapes control characters in the formatted message of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's to report
            return True
        escaped = problems.escape(message)
        if escaped is not message:
            record.msg, record.args = escaped, None
        return True


_ESCAPING = EscapingFilter()


def install() -> None:
    """Escape every record reaching the root logger's handlers (idempotent; call after configuring)."""
    for handler in logging.getLogger().handlers:
        if _ESCAPING not in handler.filters:
            handler.addFilter(_ESCAPING)
