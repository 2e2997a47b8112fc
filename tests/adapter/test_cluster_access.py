"""The kubeconfig's bearer token reaches the API: the adapter's TokenReviews, SubjectAccessReviews and
ConfigMap reads (and the operator's calls) are made as the kubeconfig's user, not anonymously."""

from __future__ import annotations

import pathlib

import pytest

from kube_sandbox import testing
from scaler.operator import kube


@pytest.mark.parametrize("token", ["sandbox", "t-0123456789abcdef"])
def test_the_kubeconfig_token_is_sent(tmp_path: pathlib.Path, token: str) -> None:
    path = testing.write_kubeconfig(tmp_path / "kubeconfig", testing.kubeconfig_for("http://127.0.0.1:1", token=token))
    connection = kube.discover(str(path))
    assert connection.authorization() == f"Bearer {token}"
    assert connection.token() == token
