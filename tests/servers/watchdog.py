"""A guard process that stops the suite's servers if the test run dies without cleaning up.

Run as a script with a pipe on stdin (`process.py` starts one per test run, in its own session so a
Ctrl-C to the terminal does not reach it). The suite writes one command per line:

    +pg PGID     a server's process group to stop if the suite goes away
    -pg PGID     that group was stopped normally; forget it
    +dir PATH    a server's temporary directory to remove if the suite goes away
    -dir PATH    forget it

End of input means the suite has exited. Normally everything has been forgotten by then; if not (the
run was killed, even with SIGKILL), every remembered group gets SIGTERM, then SIGKILL after a grace
period, and the directories are removed. Standard library only: it must run from any interpreter.
"""

import os
import shutil
import signal
import sys
import time

GRACE_SECONDS = 20.0


def _signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to a process group; whether the group still existed."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def _clean_up(groups: set[int], dirs: set[str]) -> None:
    remaining = {pgid for pgid in groups if _signal_group(pgid, signal.SIGTERM)}
    deadline = time.monotonic() + GRACE_SECONDS
    while remaining and time.monotonic() < deadline:
        time.sleep(0.2)
        remaining = {pgid for pgid in remaining if _signal_group(pgid, 0)}
    for pgid in remaining:
        _signal_group(pgid, signal.SIGKILL)
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    # The suite handles Ctrl-C itself; the guard only acts when its input closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    groups: set[int] = set()
    dirs: set[str] = set()
    for line in sys.stdin:
        verb, _, argument = line.rstrip("\n").partition(" ")
        if verb == "+pg":
            groups.add(int(argument))
        elif verb == "-pg":
            groups.discard(int(argument))
        elif verb == "+dir":
            dirs.add(argument)
        elif verb == "-dir":
            dirs.discard(argument)
    _clean_up(groups, dirs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
