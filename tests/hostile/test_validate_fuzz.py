"""`ebb validate` under generated and mutated manifests: it never crashes, never prints a traceback or a
raw control character, names a field for every error, exits 0, 1 or 2, and answers quickly.

In-process (`scaler.cli.main`, as the command runs it) for the bulk, and a few whole runs through a
subprocess. The examples come from `tests.hostile.documents` (profile `ci` by default)."""

from __future__ import annotations

import collections
import contextlib
import io
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from scaler import cli
from scaler.core import manifests, validating
from scaler.triggers import trigger_checks
from tests.hostile import documents

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Seconds one manifest may take in-process; generous for a loaded 2-core CI machine (a typical one
# takes milliseconds; before issue 9 a 40 KB parameter took 20 s).
BOUND = 5.0
_RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]")
_LINE = re.compile(r"^(warning: )?((Cluster)?TriggerAuthentication|ScaledObject|Secret|ConfigMap)/\S*: |^checked ")


# What the fuzzing checked in this run (printed at the end of the module with `-s`).
TALLY: collections.Counter[str] = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _tally() -> Iterator[None]:
    yield
    print(f"\nebb validate fuzzing: {TALLY['runs']} runs, {TALLY['documents']} documents "
          f"({TALLY['invalid']} invalid objects, {TALLY['unreadable']} unreadable files), "
          f"slowest run {TALLY['slowest_ms'] / 1000:.2f} s of CPU")


def run_validate(data: bytes, *extra: str) -> tuple[int, str, str, float]:
    """`ebb validate` in-process on `data`: exit code, stdout, stderr and the CPU seconds it took (CPU,
    not wall time: the bound is on the work, whatever else the machine runs)."""
    with tempfile.NamedTemporaryFile(suffix=".yaml") as handle:
        handle.write(data)
        handle.flush()
        out, err = io.StringIO(), io.StringIO()
        began = time.process_time()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["validate", *extra, handle.name])
        took = time.process_time() - began
        TALLY["runs"] += 1
        TALLY["unreadable"] += code == 2
        TALLY["slowest_ms"] = max(TALLY["slowest_ms"], round(took * 1000))
        return code, out.getvalue(), err.getvalue(), took


def check_invariants(data: bytes) -> None:
    code, out, err, took = run_validate(data)
    assert code in (0, 1, 2), code
    assert took < BOUND, f"validate took {took:.1f} s"
    assert "Traceback" not in out + err
    assert "could not be checked" not in out, out  # a scaler's check crashed
    assert not _RAW_CONTROL.search(out + err), "a raw control character was printed"
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err
        return
    assert err == ""
    lines = out.splitlines()
    assert lines and lines[-1].startswith("checked "), lines[-1:]
    for line in lines:
        assert _LINE.match(line), f"a line that is not a finding: {line[:200]!r}"
    assert sum(1 for line in lines if line.startswith("checked ")) == 1
    # Every error names its field (in the JSON report, where fields are separate).
    parsed = list(manifests.parse(data.decode("utf-8"), "fuzz"))
    report = validating.validate(parsed, trigger_checker=trigger_checks.CHECKER)
    TALLY["documents"] += len(parsed)
    TALLY["invalid"] += sum(not r.valid for r in (*report.scaled_objects, *report.trigger_authentications))
    assert (code == 0) == report.valid
    for item in (*report.scaled_objects, *report.trigger_authentications):
        for problem in item.errors:
            assert problem.field, f"an error without a field: {problem}"


@given(documents.manifest_bytes())
def test_mutated_manifests_keep_the_invariants(data: bytes) -> None:
    check_invariants(data)


@given(st.sampled_from(documents.TEMPLATES).flatmap(documents.mutated))
def test_every_mutated_object_gets_an_answer_naming_its_field(document: dict[str, Any]) -> None:
    data = yaml.safe_dump(document, allow_unicode=True, width=10**9).encode()
    check_invariants(data)


@given(st.binary(max_size=300))
def test_junk_bytes_are_unreadable_or_checked_never_a_crash(data: bytes) -> None:
    code, out, err, _ = run_validate(data)
    assert code in (0, 1, 2)
    assert "Traceback" not in out + err


@settings(max_examples=4)  # each run starts Python: the in-process tests carry the bulk
@given(documents.manifest_bytes())
def test_the_command_keeps_the_invariants_in_its_own_process(data: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".yaml") as handle:
        handle.write(data)
        handle.flush()
        done = subprocess.run([sys.executable, "-m", "scaler", "validate", handle.name], capture_output=True,
                              timeout=60, cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "error"})
    assert done.returncode in (0, 1, 2), done.stderr
    assert b"Traceback" not in done.stdout + done.stderr
