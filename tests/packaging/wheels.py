"""Building Ebb's wheel from this tree, as a release would (no build isolation: the suite runs offline)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def build(where: pathlib.Path) -> pathlib.Path:
    """The wheel built into WHERE/dist."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(where / "dist"), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=180, cwd=where,
    )  # fmt: skip
    (wheel,) = (where / "dist").glob("ebb_autoscaler-*.whl")
    return wheel
