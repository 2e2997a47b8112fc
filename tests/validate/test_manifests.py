"""Reading manifests: multi-document files, lists, directories, stdin, and input that cannot be read."""

from __future__ import annotations

import io
import pathlib

import pytest

from scaler.core import manifests

SO = """\
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: %s}
spec:
  scaleTargetRef: {name: w}
  triggers: [{type: cron, metadata: {timezone: UTC, start: "0 8 * * *", end: "0 9 * * *", desiredReplicas: "1"}}]
"""


def write(tmp_path: pathlib.Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_multi_document_file_keeps_order_and_sources(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "all.yaml", SO % "a" + "---\n" + SO % "b" + "---\n")
    read = manifests.read([path])
    assert [d.name for d in read.documents] == ["a", "b"]
    assert [str(d.source) for d in read.documents] == [f"{path}#0", f"{path}#1"]


def test_list_items_are_unwrapped(tmp_path: pathlib.Path) -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        "- " + (SO % name).replace("\n", "\n  ").rstrip() + "\n" for name in ("a", "b")
    )
    path = write(tmp_path, "list.yaml", text)
    read = manifests.read([path])
    assert [d.name for d in read.documents] == ["a", "b"]
    assert str(read.documents[1].source) == f"{path}#0.items[1]"


def test_other_kinds_are_counted_and_ignored(tmp_path: pathlib.Path) -> None:
    text = (
        SO % "a"
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: t}\n"
    )
    read = manifests.read([write(tmp_path, "x.yaml", text)])
    assert [d.kind for d in read.documents] == ["ScaledObject"]
    assert read.ignored == {"Service": 2}


def test_grouping_by_kind(tmp_path: pathlib.Path) -> None:
    text = SO % "a" + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\n" + SO % "b"
    read = manifests.read([write(tmp_path, "x.yaml", text)])
    assert {kind: [d.name for d in docs] for kind, docs in read.by_kind().items()} == {
        "ScaledObject": ["a", "b"],
        "Secret": ["s"],
    }
    assert [d.name for d in read.of_kind("Secret")] == ["s"]


def test_directory_is_read_like_kubectl(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "b.yaml", SO % "b")
    write(tmp_path, "a.yml", SO % "a")
    write(tmp_path, "notes.txt", "not a manifest")
    read = manifests.read([str(tmp_path)])
    assert [d.name for d in read.documents] == ["a", "b"]


def test_json_is_yaml(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        "so.json",
        '{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "j"}}',
    )
    assert manifests.read([path]).documents[0].name == "j"


def test_stdin_is_read_for_dash() -> None:
    read = manifests.read(["-"], stdin=io.StringIO(SO % "from-stdin"))
    assert read.documents[0].name == "from-stdin"
    assert read.documents[0].source.path == "-"


def test_unquoted_dates_stay_strings_as_in_kubectl(tmp_path: pathlib.Path) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {since: 2024-01-31}\n"
    (document,) = manifests.read([write(tmp_path, "c.yaml", text)]).documents
    assert document.body["data"]["since"] == "2024-01-31"


def test_namespace_default_applies_only_when_missing(tmp_path: pathlib.Path) -> None:
    text = (
        SO % "a" + "---\n" + (SO % "b").replace("metadata: {name: b}", "metadata: {name: b, namespace: ops}")
    )
    a, b = manifests.read([write(tmp_path, "x.yaml", text)]).documents
    assert (a.namespace("team"), b.namespace("team")) == ("team", "ops")


UNREADABLE = [
    pytest.param(None, "no such file", id="missing-file"),
    pytest.param("kind: [\n", "not valid YAML: line 2", id="yaml-syntax"),
    pytest.param("- a\n- b\n", "a manifest must be an object", id="not-an-object"),
    pytest.param("apiVersion: v1\nmetadata: {name: x}\n", "kind is not set", id="kind-missing"),
    pytest.param(
        "kind: ScaledObject\nmetadata: {name: x}\n", "apiVersion is not set", id="api-version-missing"
    ),
    pytest.param(
        "apiVersion: v1\nkind: List\nitems: [1]\n",
        "#0.items[0]: a manifest must be an object",
        id="list-item-not-object",
    ),
    pytest.param(b"\xff\xfe\x00", "not UTF-8 text", id="binary-file"),
]


@pytest.mark.parametrize(("content", "fragment"), UNREADABLE)
def test_unreadable_input_raises_manifest_error_naming_the_file(
    tmp_path: pathlib.Path, content: str | bytes | None, fragment: str
) -> None:
    path = tmp_path / "input.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(manifests.ManifestError) as raised:
        manifests.read([str(path)])
    assert str(path) in str(raised.value)
    assert fragment in str(raised.value)


def test_empty_directory_is_an_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(manifests.ManifestError, match=r"no \.yaml, \.yml or \.json files"):
        manifests.read([str(tmp_path)])


def test_no_paths_is_an_error() -> None:
    with pytest.raises(manifests.ManifestError, match="no input"):
        manifests.read([])
