"""Fixtures for the Kubernetes API sandbox tests: a fresh sandbox per test, a raw HTTP client for it, and a
kubeconfig file. Every assertion goes through HTTP, never through the server's Python objects."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from kube_sandbox import testing
from tests.sandbox import rawhttp


@pytest.fixture
def sandbox() -> Iterator[testing.Sandbox]:
    with testing.Sandbox(ready_delay=0.05, seed=7) as running:
        yield running


@pytest.fixture
def api(sandbox: testing.Sandbox) -> rawhttp.Api:
    return rawhttp.Api(sandbox.base_url)


@pytest.fixture
def kubeconfig(sandbox: testing.Sandbox, tmp_path: pathlib.Path) -> pathlib.Path:
    return sandbox.write_kubeconfig(tmp_path / "kubeconfig")
