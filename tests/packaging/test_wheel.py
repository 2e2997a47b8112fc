"""The wheel holds everything the installed `ebb` needs: every module of Ebb's packages, the CRDs `ebb demo`
applies, and the `py.typed` markers. (Editable installs read the source tree, so only a real wheel shows
a file left out of the package list.)"""

from __future__ import annotations

import pathlib
import zipfile

from tests.packaging import wheels

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("scaler", "scalers", "metrics_adapter", "kube_sandbox")


def test_the_wheel_holds_every_module_and_data_file(tmp_path: pathlib.Path) -> None:
    wheel = wheels.build(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for pattern in ("**/*.py", "**/py.typed")
        for path in (ROOT / package).glob(pattern)
        if "__pycache__" not in path.parts
    }
    expected |= {f"scaler/data/crds/{crd.name}" for crd in (ROOT / "crds").glob("*.yaml")}
    missing = sorted(expected - names)
    assert not missing, f"left out of the wheel: {missing}"
    assert any(n.endswith("entry_points.txt") for n in names)
