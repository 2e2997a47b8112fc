"""`ebb demo` through the installed console script: a short run exits 0 with the cycle printed, Ctrl-C
or SIGTERM stops it cleanly (exit 130, within 5 s), and bad options get a clear error and exit 2 (checked in-process, nothing started)."""

from __future__ import annotations

import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

from scaler import cli

EBB = pathlib.Path(sys.executable).parent / "ebb"


def test_a_short_run_prints_the_cycle_and_exits_0() -> None:
    began = time.monotonic()
    done = subprocess.run([str(EBB), "demo", "--duration", "22"], capture_output=True, text=True, timeout=60)
    took = time.monotonic() - began
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"decisions: http://127\.0\.0\.1:\d+/api/v1/scaledobjects/demo/worker/decisions", out)
    for reason in ("ACTIVATED_FROM_ZERO", "ACTIVE", "COOLDOWN", "SCALED_TO_ZERO"):
        assert f"  {reason}" in out, reason
    assert re.search(r"replicas 0→1 ", out) and re.search(r"replicas [1-9]\d*→0 ", out)
    assert "cycle: complete" in out
    assert done.stderr == ""
    assert took < 30


@pytest.mark.parametrize(
    "signum", [pytest.param(signal.SIGINT, id="ctrl-c"), pytest.param(signal.SIGTERM, id="sigterm")]
)
def test_a_signal_stops_it_cleanly(signum: signal.Signals) -> None:
    process = subprocess.Popen([str(EBB), "demo", "--duration", "60"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    seen = []
    for line in process.stdout:  # until the operator's first decision is printed
        seen.append(line)
        if "NO_CHANGE" in line:
            break
    stopped = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=20)
    assert time.monotonic() - stopped < 5
    assert process.returncode == 130, "".join(seen) + out + err
    assert "interrupted: stopping" in out
    assert "cycle: incomplete" in out
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--duration", "5"], "ebb demo: --duration: expected at least 20 s, got 5", id="too-short"),
        pytest.param(["--ready-delay", "-1"], "ebb demo: --ready-delay: expected a non-negative number, got -1",
                     id="negative-ready-delay"),
    ],
)
def test_bad_options(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", *argv]) == 2
    assert capsys.readouterr().err.strip() == message


def test_a_bad_mode_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["demo", "--mode", "sideways"])
    assert exited.value.code == 2
    assert "invalid choice: 'sideways'" in capsys.readouterr().err
