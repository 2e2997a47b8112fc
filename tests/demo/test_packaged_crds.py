"""The CRDs `ebb demo` applies ship inside the package (`scaler/data/crds/`) as byte-identical copies of
the repository's `crds/`, the source of truth, so an installed Ebb needs no checkout."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from scaler.cli import demo

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "crds"
SHIPPED = ROOT / "scaler" / "data" / "crds"


def test_the_same_files_are_shipped() -> None:
    assert sorted(p.name for p in SHIPPED.glob("*.yaml")) == sorted(p.name for p in SOURCE.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(p.name for p in SOURCE.glob("*.yaml")))
def test_each_shipped_copy_is_byte_identical(name: str) -> None:
    assert (SHIPPED / name).read_bytes() == (SOURCE / name).read_bytes(), (
        f"scaler/data/crds/{name} differs from crds/{name}: run `cp crds/*.yaml scaler/data/crds/`"
    )


def test_the_demo_loads_them_from_the_package() -> None:
    loaded = demo.crd_documents()
    assert [d["metadata"]["name"] for d in loaded] == [
        yaml.safe_load(p.read_text())["metadata"]["name"] for p in sorted(SOURCE.glob("*.yaml"))
    ]
    assert {d["spec"]["names"]["kind"] for d in loaded} == {
        "ScaledObject", "TriggerAuthentication", "ClusterTriggerAuthentication"
    }
