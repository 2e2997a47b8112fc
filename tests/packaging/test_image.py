"""The image's recipe (`Containerfile`) and what it installs. No container engine runs on these machines,
so the image itself is not built here; what the final stage does — install Ebb's wheel and its
dependencies into a fresh virtual environment and run `ebb` from it as a non-root user — is done for
real on a wheel built from this tree."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

from tests.packaging import wheels

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "Containerfile"


def _stages() -> list[list[str]]:
    stages: list[list[str]] = []
    for line in CONTAINERFILE.read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_the_containerfile_builds_in_one_stage_and_runs_from_a_slim_one_as_non_root() -> None:
    build, final = _stages()
    assert build[0].endswith(" AS build") and "pip wheel" in " ".join(build)
    assert re.match(r"FROM \S+python:3\.\d+-slim", final[0])
    final_text = "\n".join(final)
    assert "COPY --from=build /wheels" in final_text
    assert not re.search(r"\b(gcc|g\+\+|build-essential|libc6-dev)\b", final_text), "no compilers in the final image"
    (user,) = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0, "a numeric non-root UID:GID"
    assert 'ENTRYPOINT ["ebb"]' in final_text


def test_the_wheel_installs_into_a_fresh_venv_and_every_command_of_the_chart_starts(tmp_path: pathlib.Path) -> None:
    wheel = wheels.build(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    # Run from outside the source tree, so nothing is imported from it.
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    for command in ("operator", "validate", "scalers"):
        done = subprocess.run(
            [str(venv / "bin" / "ebb"), command, "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env
        )
        assert done.returncode == 0, (command, done.stderr)
        assert f"usage: ebb {command}" in done.stdout
    listed = subprocess.run([str(venv / "bin" / "ebb"), "scalers"], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path, env=env)  # fmt: skip
    assert listed.returncode == 0 and "redis" in listed.stdout, listed.stderr
