"""Running the real helm binary (installed by `scripts/install-helm`) on the chart in `helm/ebb`."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "ebb"
HELM = ROOT / ".cache" / "helm" / "helm"


def env(home: pathlib.Path) -> dict[str, str]:
    """helm's caches and config in a folder of the test's, so no run sees another's repositories."""
    return {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }


def run(args: Sequence[str], home: pathlib.Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert HELM.exists(), f"{HELM} is missing: scripts/install-helm installs it (scripts/test runs it)"
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120, env=env(home), check=check)


@dataclasses.dataclass(frozen=True)
class Rendered:
    documents: tuple[dict[str, Any], ...]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.documents if d["kind"] == kind]

    def one(self, kind: str, name_suffix: str = "") -> dict[str, Any]:
        (found,) = [d for d in self.of_kind(kind) if d["metadata"]["name"].endswith(name_suffix)]
        return found

    def kinds(self) -> set[str]:
        return {d["kind"] for d in self.documents}

    def containers(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(workload, container) for every container of every Deployment and Pod."""
        for doc in self.documents:
            if doc["kind"] == "Deployment":
                spec = doc["spec"]["template"]["spec"]
            elif doc["kind"] == "Pod":
                spec = doc["spec"]
            else:
                continue
            for container in spec["containers"]:
                yield doc, container


def template(
    home: pathlib.Path,
    values: Mapping[str, Any] | None = None,
    *,
    release: str = "ebb",
    namespace: str = "ebb",
    check: bool = True,
) -> Rendered:
    values_file = home / f"values-{release}-{namespace}.yaml"
    values_file.write_text(yaml.safe_dump(dict(values or {})))
    done = run(["template", release, str(CHART), "-n", namespace, "-f", str(values_file)], home, check=check)
    docs = tuple(d for d in yaml.safe_load_all(done.stdout) if d)
    return Rendered(docs)
