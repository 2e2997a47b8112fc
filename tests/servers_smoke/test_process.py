"""The process manager behind the server fixtures: clear failures, deadlines, stopping whole groups,
and new ports when one was taken."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ports, probes, process, redis_server, shared

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def spawn_shell(workdir: Path, script: str) -> process.ServerProcess:
    return process.ServerProcess.spawn(
        "shell", ["/bin/sh", "-c", script], log_path=workdir / "shell.log", cwd=workdir
    )


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0; it is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


class TestFindBinary:
    def test_a_missing_binary_names_what_was_tried_and_what_to_install(self, workdir: Path) -> None:
        absent = workdir / "no-such-server"
        with pytest.raises(process.BinaryMissing) as raised:
            process.find_binary("Frobnicator", [absent, "no-such-server-in-path"], "install `frob`")
        message = str(raised.value)
        assert "Frobnicator is not installed" in message
        assert str(absent) in message and "no-such-server-in-path" in message
        assert message.endswith("install `frob`")

    def test_the_first_executable_candidate_wins(self, workdir: Path) -> None:
        found = process.find_binary("shell", [workdir / "absent", "sh"], "-")
        assert found == Path(str(shutil.which("sh")))


class TestFixtureFailures:
    @pytest.mark.parametrize(
        "error",
        [
            pytest.param(
                process.BinaryMissing("Redis is not installed: install `redis-server`"), id="missing"
            ),
            pytest.param(process.StartupError("redis (pid 1) exited with code 1"), id="start-failed"),
        ],
    )
    def test_a_server_problem_fails_the_test_rather_than_skipping_it(self, error: Exception) -> None:
        with pytest.raises(pytest.fail.Exception, match=re.escape(str(error))), shared.failing_clearly():
            raise error


class TestPreparing:
    def test_a_server_that_cannot_be_prepared_leaves_no_directory(self) -> None:
        seen: list[Path] = []

        class DiskFull(redis_server.RedisServer):
            def _prepare(self) -> None:
                seen.append(self.workdir)
                (self.workdir / "redis.conf").write_text("partial")
                raise OSError("No space left on device")

        with pytest.raises(OSError, match="No space left"):
            DiskFull(redis_server.redis_binary())
        assert len(seen) == 1 and not seen[0].exists()


class TestStartupFailures:
    def test_a_server_that_exits_fails_with_its_exit_code_and_log_tail(self, workdir: Path) -> None:
        server = spawn_shell(workdir, "echo 'fatal: bad config line 3'; exit 3")
        with pytest.raises(process.StartupError) as raised:
            server.wait_ready(lambda: False, timeout=10.0)
        assert "exited with code 3" in str(raised.value)
        assert "fatal: bad config line 3" in str(raised.value)
        assert not isinstance(raised.value, process.PortInUse)

    def test_a_server_never_ready_is_stopped_at_the_deadline(self, workdir: Path) -> None:
        server = spawn_shell(workdir, "echo waiting; exec sleep 60")
        started = time.monotonic()
        with pytest.raises(process.StartupError) as raised:
            server.wait_ready(lambda: False, timeout=0.5)
        assert time.monotonic() - started < 5.0
        assert "was not ready within 0 s" in str(raised.value) or "was not ready within 1 s" in str(
            raised.value
        )
        assert "waiting" in str(raised.value)
        assert not server.running


class TestStopping:
    def test_a_server_ignoring_sigterm_is_killed_with_its_children(self, workdir: Path) -> None:
        child_file = workdir / "child.pid"
        server = spawn_shell(workdir, f"trap '' TERM; sleep 60 & echo $! > {child_file}; wait; wait")
        server.wait_ready(lambda: child_file.exists() and child_file.read_text().strip() != "", timeout=5.0)
        child = int(child_file.read_text())
        started = time.monotonic()
        server.stop(grace=0.3)
        assert time.monotonic() - started < 5.0
        assert not server.running
        assert not pid_exists(server.pid)
        assert not pid_exists(child)


@pytest.fixture
def occupied_port() -> Iterator[int]:
    """A port with a listener on it for the duration of the test."""
    port = ports.free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((ports.HOST, port))
        holder.listen()
        yield port


class TestPortsTakenMeanwhile:
    def test_a_taken_port_is_reported_as_such(self, occupied_port: int) -> None:
        server = redis_server.RedisServer(redis_server.redis_binary())
        server.port = occupied_port
        try:
            with pytest.raises(process.PortInUse, match=r"(?i)address already in use"):
                server.start()
            assert not server.running
        finally:
            server.close()

    def test_start_with_retries_moves_to_fresh_ports(self, occupied_port: int) -> None:
        binary = redis_server.redis_binary()
        attempts: list[int] = []

        def make() -> redis_server.RedisServer:
            server = redis_server.RedisServer(binary)
            if not attempts:
                server.port = occupied_port
            attempts.append(server.port)
            return server

        server = process.start_with_retries(make)
        try:
            assert attempts[0] == occupied_port and len(attempts) == 2
            assert server.port == attempts[1] != occupied_port
            assert probes.exchange(server.host, server.port, b"PING\r\n", expect=7) == b"+PONG\r\n"
        finally:
            server.close()
        assert not server.workdir.exists()


class TestAbruptDeath:
    def test_servers_of_a_killed_test_run_are_stopped_and_their_directories_removed(self) -> None:
        script = (
            "import time\n"
            "from tests.servers import redis_server\n"
            "server = redis_server.start_redis()\n"
            "print(server.pid, server.workdir, flush=True)\n"
            "time.sleep(60)\n"
        )
        run = subprocess.Popen(
            [sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
        )
        try:
            assert run.stdout is not None
            pid_text, workdir_text = run.stdout.readline().split()
        finally:
            run.kill()
            run.wait()
            if run.stdout is not None:
                run.stdout.close()
        pid, workdir = int(pid_text), Path(workdir_text)
        deadline = time.monotonic() + 10.0
        while (pid_exists(pid) or workdir.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_exists(pid), "the Redis of the killed run is still alive"
        assert not workdir.exists(), "the temporary directory of the killed run is still there"
