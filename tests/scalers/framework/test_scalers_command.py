"""`ebb scalers`: the listing, the schema (JSON and YAML) and the docs table, over the installed entry
points; and `docs/scalers.md` is what the command prints now."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from scaler import cli
from scaler.cli.commands import scalers as command

REPO = Path(__file__).resolve().parents[3]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["scalers", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_listing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert any(
        x.startswith("prometheus ") and "scalers.prometheus_query:PROMETHEUS (ebb-autoscaler " in x
        for x in lines
    )
    assert "The value of a PromQL instant query." in out


def test_schema_json_and_yaml_agree(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--schema", "cron", "metrics-api")
    assert code == 0
    as_json = json.loads(out)
    code, out, _ = run(capsys, "--schema", "-o", "yaml", "cron", "metrics-api")
    assert code == 0
    assert yaml.safe_load(out) == as_json
    cron, metrics = as_json["scalers"]
    assert cron["type"] == "cron"
    assert [p["name"] for p in cron["parameters"]] == ["timezone", "start", "end", "desiredReplicas"]
    by_name = {p["name"]: p for p in metrics["parameters"]}
    assert by_name["format"]["choices"] == ["json", "prometheus", "xml", "yaml"]
    assert by_name["apiKey"]["secret"] is True
    assert by_name["authModes"]["aliases"] == ["authMode"]


def test_unknown_type(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "no-such-type")
    assert code == 2
    assert "unknown trigger type no-such-type" in err


def test_markdown_has_a_section_per_type(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--markdown")
    assert code == 0
    assert out.startswith("# Trigger types\n")
    for name in ("prometheus", "cron", "cpu", "memory", "metrics-api"):
        assert f"\n## {name}\n" in out
    assert "| `bearerToken` (alias `token`) | string | no |  | authParams |" in out
    assert "| `ignoreNullValues` | bool | no | `true` | triggerMetadata |" in out


def test_docs_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--markdown")
    assert code == 0
    assert (REPO / "docs" / "scalers.md").read_text() == out, (
        "regenerate: ebb scalers --markdown > docs/scalers.md"
    )


def test_arguments() -> None:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(["--schema", "-o", "yaml", "cron"])
    assert (args.schema, args.markdown, args.output, args.types) == (True, False, "yaml", ["cron"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--schema", "--markdown"])
