"""Starting and stopping the suite's server processes.

- `find_binary` locates a server binary or raises `BinaryMissing` naming the package to install.
- `ServerProcess` is one running process: started in a new session (its own process group), its output
  written to a log file, waited on until a readiness probe passes or a deadline expires (the failure
  message carries the log tail), and stopped by PID: SIGTERM, a grace period, SIGKILL, reaped; whatever
  is left in its process group is killed too.
- `ManagedServer` is the base of the fixtures' handles: a server on fixed ports in its own temporary
  directory that can be stopped and started again on the same ports (`stop()`, `start()`, `stopped()`).
- `start_with_retries` starts a handle built on fresh ports, and tries fresh ports again when another
  process took one first.

If the test run dies abruptly (even SIGKILL), a guard process (`watchdog.py`) that notices its input
pipe closing stops every process group still registered and removes the temporary directories. On an
ordinary exit, `atexit` stops whatever is still running.
"""

import abc
import atexit
import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TypeVar

LOG_TAIL_LINES = 40


class BinaryMissing(Exception):
    """A server binary is not installed; the message names what to install."""


class StartupError(Exception):
    """A server did not become ready; the message carries the end of its log."""


class PortInUse(StartupError):
    """A server could not bind one of its ports because another process took it first."""


def find_binary(what: str, candidates: Sequence[Path | str], install_hint: str) -> Path:
    """The first candidate that is an executable file; a bare name is looked up in PATH."""
    for candidate in candidates:
        found = shutil.which(candidate) if isinstance(candidate, str) else candidate
        if found is not None and os.access(found, os.X_OK) and Path(found).is_file():
            return Path(found)
    tried = ", ".join(str(candidate) for candidate in candidates)
    raise BinaryMissing(f"{what} is not installed (looked for {tried}): {install_hint}")


class _Guard:
    """The client side of the watchdog process; started on first use, one per test run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._guard: subprocess.Popen[str] | None = None
        self._pipe: IO[str] | None = None

    def _send(self, line: str) -> None:
        with self._lock:
            if self._pipe is None:
                script = Path(__file__).with_name("watchdog.py")
                guard = subprocess.Popen(
                    [sys.executable, str(script)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                    text=True,
                )
                assert guard.stdin is not None
                self._guard, self._pipe = guard, guard.stdin
            try:
                self._pipe.write(line + "\n")
                self._pipe.flush()
            except (BrokenPipeError, ValueError):
                # The guard is gone; cleanup on exit still happens through atexit.
                pass

    def close(self) -> None:
        """End the guard after an orderly exit (it cleans up whatever is still registered)."""
        with self._lock:
            if self._guard is None or self._pipe is None:
                return
            with contextlib.suppress(BrokenPipeError, ValueError):
                self._pipe.close()
            try:
                self._guard.wait(30.0)
            except subprocess.TimeoutExpired:
                # Still cleaning up; it runs on by itself.
                self._guard.returncode = -1
            self._guard = self._pipe = None

    def watch_group(self, pgid: int) -> None:
        self._send(f"+pg {pgid}")

    def forget_group(self, pgid: int) -> None:
        self._send(f"-pg {pgid}")

    def watch_dir(self, path: Path) -> None:
        self._send(f"+dir {path}")

    def forget_dir(self, path: Path) -> None:
        self._send(f"-dir {path}")


_guard = _Guard()
_running: set["ServerProcess"] = set()
_running_lock = threading.Lock()


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes in process group `pgid`, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Fields after the parenthesised command name: state, ppid, pgrp, ...
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _mentions_port_in_use(log: str) -> bool:
    text = log.lower()
    return "address already in use" in text or "eaddrinuse" in text or "address in use" in text


class ServerProcess:
    """One server process started in its own session; stop it with `stop()`."""

    def __init__(self, name: str, popen: "subprocess.Popen[bytes]", log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._popen = popen

    @classmethod
    def spawn(
        cls,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        cwd: Path,
        env: Mapping[str, str] | None = None,
    ) -> "ServerProcess":
        """Start `argv` with stdout and stderr appended to `log_path`."""
        with log_path.open("ab") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            log.flush()
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                start_new_session=True,
            )
        process = cls(name, popen, log_path)
        # A new session makes the PID the process group ID.
        _guard.watch_group(popen.pid)
        with _running_lock:
            _running.add(process)
        return process

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def running(self) -> bool:
        return self._popen.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"(log {self.log_path} unreadable: {error})"
        return "\n".join(text.splitlines()[-lines:])

    def _failure(self, what: str) -> StartupError:
        tail = self.log_tail()
        message = f"{self.name} (pid {self.pid}) {what}; log {self.log_path} ends with:\n{tail}"
        return PortInUse(message) if _mentions_port_in_use(tail) else StartupError(message)

    def wait_ready(
        self,
        probe: Callable[[], bool],
        timeout: float,
        cancel: threading.Event | None = None,
    ) -> float:
        """Poll `probe` until it returns True; the seconds it took. On failure the process is stopped."""
        started = time.monotonic()
        deadline = started + timeout
        pause = 0.02
        last_error: Exception | None = None
        while True:
            if not self.running:
                failure = self._failure(f"exited with code {self._popen.returncode} before it was ready")
                self.stop()
                raise failure
            try:
                ready = probe()
            except Exception as problem:
                # A server still starting may answer anything; only the deadline ends the wait.
                ready, last_error = False, problem
            if ready:
                return time.monotonic() - started
            if cancel is not None and cancel.is_set():
                self.stop()
                raise StartupError(f"{self.name}: start cancelled")
            if time.monotonic() >= deadline:
                probe_said = f" (last check: {type(last_error).__name__}: {last_error})" if last_error else ""
                failure = self._failure(f"was not ready within {timeout:.0f} s{probe_said}")
                self.stop()
                raise failure
            time.sleep(pause)
            pause = min(pause * 1.5, 0.25)

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM to the process, SIGKILL to its group after `grace` seconds; reaped; leftovers killed."""
        pgid = self._popen.pid
        if self._popen.poll() is None:
            # Only the main process gets SIGTERM: a wrapper (RabbitMQ's start script) turns it into
            # a graceful stop of the processes it started.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._popen.pid, signal.SIGTERM)
            try:
                self._popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                self._popen.wait()
        # Helpers the server started in its group must not outlive it, nor hold its ports on a restart.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.02)
        _guard.forget_group(pgid)
        with _running_lock:
            _running.discard(self)


@atexit.register
def _stop_all() -> None:
    with _running_lock:
        leftovers = list(_running)
    for process in leftovers:
        process.stop(grace=5.0)
    _guard.close()


@dataclasses.dataclass(frozen=True)
class Launch:
    """How to run a server: its command line and environment (None: inherit ours)."""

    argv: Sequence[str]
    env: Mapping[str, str] | None = None


@dataclasses.dataclass(frozen=True)
class StartRecord:
    """How long one start took, for the timing summary at the end of the run."""

    name: str
    seconds: float
    detail: str


START_RECORDS: list[StartRecord] = []


class ManagedServer(abc.ABC):
    """A server on fixed loopback ports in its own temporary directory, restartable on the same ports.

    Subclasses set their ports before calling `__init__`, say what goes into the directory
    (`_prepare`; the directory is removed again if that fails), how to launch the server (`_launch`) and
    when it is ready (`_is_ready`, `_after_ready`), and may start helper processes first
    (`_start_helpers`, `_stop_helpers`).
    """

    name: str = "server"
    start_timeout: float = 15.0
    stop_grace: float = 15.0
    # Seconds allowed for a graceful stop when the server is closed for good (its data is thrown away).
    close_grace: float = 5.0

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"ebb-{self.name}-"))
        _guard.watch_dir(self.workdir)
        self.log_path = self.workdir / f"{self.name}.log"
        self.ready_seconds: float | None = None
        self._process: ServerProcess | None = None
        self._starts = 0
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    def _prepare(self) -> None:  # noqa: B027 - optional hook
        """Write what the server needs into `workdir` before its first start (nothing by default)."""

    @abc.abstractmethod
    def _launch(self) -> Launch: ...

    @abc.abstractmethod
    def _is_ready(self) -> bool: ...

    def _start_helpers(self, cancel: threading.Event | None) -> None:  # noqa: B027 - optional hook
        """Start processes the server needs before it starts (none by default)."""

    def _stop_helpers(self) -> None:  # noqa: B027 - optional hook
        """Stop what `_start_helpers` started (nothing by default)."""

    def _after_ready(self, cancel: threading.Event | None) -> None:  # noqa: B027 - optional hook
        """Wait for more than the readiness probe shows, if needed; raise StartupError on failure."""

    def _describe(self) -> str:
        return ""

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, cancel: threading.Event | None = None) -> None:
        """Start the server (again) on its ports and wait until it is ready; no-op if it runs."""
        if self.running:
            return
        self._start_helpers(cancel)
        launch = self._launch()
        try:
            self._process = ServerProcess.spawn(
                self.name, launch.argv, log_path=self.log_path, cwd=self.workdir, env=launch.env
            )
            self.ready_seconds = self._process.wait_ready(self._is_ready, self.start_timeout, cancel)
            self._after_ready(cancel)
        except BaseException:
            self.stop(grace=0.0)
            raise
        again = " (restart)" if self._starts else ""
        self._starts += 1
        START_RECORDS.append(StartRecord(self.name, self.ready_seconds, self._describe() + again))

    def stop(self, grace: float | None = None) -> None:
        """Stop the server by PID (and its helpers); its ports and data directory are kept."""
        if self._process is not None:
            self._process.stop(self.stop_grace if grace is None else grace)
            self._process = None
        self._stop_helpers()

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """Stop the server for the duration of the block and start it again afterwards, even on error."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def close(self) -> None:
        """Stop the server and remove its temporary directory."""
        self.stop(self.close_grace)
        shutil.rmtree(self.workdir, ignore_errors=True)
        _guard.forget_dir(self.workdir)


S = TypeVar("S", bound=ManagedServer)


def start_with_retries(make: Callable[[], S], attempts: int = 3, cancel: threading.Event | None = None) -> S:
    """Build a handle on fresh ports and start it; on a port taken meanwhile, try fresh ports again."""
    for attempt in range(1, attempts + 1):
        server = make()
        try:
            server.start(cancel)
        except PortInUse:
            server.close()
            if attempt == attempts:
                raise
            continue
        except BaseException:
            server.close()
            raise
        return server
    raise AssertionError("unreachable")
