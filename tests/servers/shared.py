"""What the server fixtures share: clear failures, early background starts, the list of shared servers.

- `failing_clearly()` turns a missing binary or a failed start into a test failure with a readable
  message (never a skip).
- `Early` starts a slow server in a background thread as soon as collection shows a test will need it
  (`begin_if_needed`), so its start overlaps the tests that run first; the fixture then `take()`s it.
- `SHARED` lists the session-wide servers; `suite.py` starts again any that a test left stopped.
"""

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import pytest

from tests.servers import process

SHARED: list[process.ManagedServer] = []


@contextlib.contextmanager
def failing_clearly() -> Iterator[None]:
    """Report a missing binary or a server that would not start as a failure of the requesting test."""
    try:
        yield
    except (process.BinaryMissing, process.StartupError) as error:
        pytest.fail(str(error), pytrace=False)


S = TypeVar("S", bound=process.ManagedServer)


class Early(Generic[S]):
    """A server started at most once, either in the background after collection or on first request."""

    def __init__(self, fixture_name: str, make: Callable[[], S]) -> None:
        self.fixture_name = fixture_name
        self._make = make
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._server: S | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self._server = process.start_with_retries(self._make, cancel=self._cancel)
        except BaseException as error:
            self._error = error

    def begin(self) -> None:
        """Start in the background (once)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"start-{self.fixture_name}", daemon=True
                )
                self._thread.start()

    def begin_if_needed(self, session: pytest.Session) -> None:
        """Start in the background if a collected test uses the fixture, directly or through another."""
        if session.config.option.collectonly:
            return
        if any(self.fixture_name in getattr(item, "fixturenames", ()) for item in session.items):
            self.begin()

    def take(self) -> S:
        """The started server; waits for the background start, or starts it now. Raises what start raised."""
        self.begin()
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._server is not None
        return self._server

    def close(self) -> None:
        """Cancel a start still under way and stop the server."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join()
        if self._server is not None:
            self._server.close()
            self._server = None
