"""The reproducers of issue 9 and their kin, through `ebb validate` as a user runs it: each gets an error
naming the field (or exit 2 saying why the file cannot be read), never a traceback, quickly."""

from __future__ import annotations

import copy
import json
import pathlib
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from scaler.core import formulas, manifests, specs, validating
from scalers import params
from tests.hostile import documents
from tests.hostile.test_validate_fuzz import ROOT, run_validate

Edit = Callable[[dict[str, Any]], None]


def _so(edit: Edit) -> bytes:
    body = documents.scaled_object()
    edit(body)
    return yaml.safe_dump_all([body, documents.trigger_authentication(), documents.secret(),
                               documents.deployment()], width=10**9).encode()


def _trigger(index: int, **metadata: str) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        body["spec"]["triggers"][index]["metadata"].update(metadata)
    return edit


def _nest(depth: int) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        body["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"] = documents._nested(depth)
    return edit


def _many_triggers(body: dict[str, Any]) -> None:
    cron = body["spec"]["triggers"][1]
    body["spec"]["triggers"] = [{**copy.deepcopy(cron), "name": f"c{i}"} for i in range(specs.MAX_TRIGGERS + 1)]
    del body["spec"]["advanced"]["scalingModifiers"]


def _long_formula(body: dict[str, Any]) -> None:
    body["spec"]["advanced"]["scalingModifiers"]["formula"] = "queue + " * 200 + "clock"


def _slow_formula(body: dict[str, Any]) -> None:
    array = "[" + ",".join(["queue"] * 100) + "]"
    body["spec"]["advanced"]["scalingModifiers"]["formula"] = (
        f"count({array}, count({array}, count({array}, # > clock) > 0) > 0)")


def _many_keys(body: dict[str, Any]) -> None:
    body["spec"]["triggers"][0]["metadata"].update({f"k{i}": "v" for i in range(specs.MAX_METADATA_KEYS)})


T = "spec.triggers"
INVALID = [
    pytest.param(_trigger(0, listLength="9" * 40_000), f"{T}[0].metadata.listLength", "at most 16,384", id="40kb-parameter"),
    pytest.param(_trigger(0, listLength=":" * 16_000), f"{T}[0].metadata.listLength", "expected an integer", id="16kb-colons"),
    pytest.param(_trigger(1, timezone="Europe"), f"{T}[1].metadata.timezone", "unknown time zone", id="tz-directory"),
    pytest.param(_trigger(1, timezone="__pycache__"), f"{T}[1].metadata.timezone", "unknown time zone", id="tz-pycache"),
    pytest.param(_trigger(1, timezone="A" * 300), f"{T}[1].metadata.timezone", "unknown time zone", id="tz-300-chars"),
    pytest.param(_trigger(1, timezone="../../../etc/passwd"), f"{T}[1].metadata.timezone", "unknown time zone", id="tz-path"),
    pytest.param(_trigger(1, timezone="zone1970.tab"), f"{T}[1].metadata.timezone", "unknown time zone", id="tz-table-file"),
    pytest.param(_trigger(2, targetValue="1e309"), f"{T}[2].metadata.targetValue", "out of range", id="target-1e309"),
    pytest.param(_trigger(2, targetValue="-1e309"), f"{T}[2].metadata.targetValue", "out of range", id="target-minus-1e309"),
    pytest.param(_trigger(2, targetValue="NaN"), f"{T}[2].metadata.targetValue", "expected a number", id="target-nan"),
    pytest.param(_trigger(0, listLength="9223372036854775808"), f"{T}[0].metadata.listLength", "within int64", id="int64-overflow"),
    pytest.param(_trigger(2, timeout="99999999999h"), f"{T}[2].metadata.timeout", "Go duration", id="duration-overflow"),
    pytest.param(_nest(40), "spec.advanced.horizontalPodAutoscalerConfig.behavior", "nested more than", id="nested-40"),
    pytest.param(_many_triggers, T, f"at most {specs.MAX_TRIGGERS}", id="too-many-triggers"),
    pytest.param(_trigger(0, **{f"k{i}": "x" * 16_000 for i in range(5)}), T, "in all; at most 65,536", id="metadata-total"),
    pytest.param(_many_keys, f"{T}[0].metadata", f"at most {specs.MAX_METADATA_KEYS}", id="too-many-keys"),
    pytest.param(_long_formula, "spec.advanced.scalingModifiers.formula", f"at most {formulas.MAX_FORMULA_LENGTH:,}", id="long-formula"),
    pytest.param(_slow_formula, "spec.advanced.scalingModifiers.formula", "", id="slow-formula"),
]


@pytest.mark.parametrize(("edit", "field", "says"), INVALID)
def test_a_hostile_scaled_object_gets_an_error_naming_its_field(edit: Edit, field: str, says: str) -> None:
    code, out, err, took = run_validate(_so(edit))
    assert (code, err) == (1, ""), (code, err)
    errors = [line for line in out.splitlines() if line.startswith("ScaledObject/default/orders: ")]
    assert any(line.startswith(f"ScaledObject/default/orders: {field}") and says in line for line in errors), errors
    assert "Traceback" not in out and "could not be checked" not in out
    assert took < 5.0
    assert max(len(line) for line in out.splitlines()) < 1_200  # a 40 KB value is not echoed whole


def test_a_secret_with_a_non_ascii_value_is_named_not_a_traceback() -> None:
    data = b'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: "\xc3\xa9"}\n'
    code, out, err, _ = run_validate(data)
    assert (code, err) == (0, "")
    assert out.startswith("warning: Secret/default/s: data.k: is not base64-encoded UTF-8 text"), out


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param(json.dumps(documents._nested(500)), "nested more than 100 levels deep", id="json-500-deep"),
        pytest.param(json.dumps({**documents.scaled_object(), "spec": documents._nested(500)}),
                     "nested more than 100 levels deep", id="scaled-object-spec-500-deep"),
        pytest.param("a: &a [*a]\napiVersion: v1\nkind: ConfigMap\n", "an alias contains itself", id="self-alias"),
        pytest.param("apiVersion: v1\nkind: ConfigMap\ndata: {k: " + "9" * 5000 + "}\n", "4300 digits", id="huge-int"),
        pytest.param("apiVersion: v1\nkind: ConfigMap\ndata: [!!timestamp x]\n", "a value cannot be read", id="bad-tag"),
        pytest.param("apiVersion: v1\nkind: ConfigMap\ndata: {k: !!binary 'a'}\n", "base64", id="bad-binary"),
    ],
)
def test_unreadable_yaml_exits_2_with_one_line(text: str, says: str) -> None:
    code, out, err, _ = run_validate(text.encode())
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and err.count("\n") == 1 and says in err, err


def test_a_forged_name_cannot_split_lines_fake_a_summary_or_reach_the_terminal() -> None:
    name = "x\nchecked 0 ScaledObjects (0 invalid)\x1b[2J\u2028\u202e"
    body = documents.scaled_object(name)
    code, out, err, _ = run_validate(yaml.safe_dump(body).encode())
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("checked ")] == ["checked 1 ScaledObject (1 invalid)"]
    assert all(line.startswith("ScaledObject/") for line in lines[:-1])
    assert "\\nchecked 0 ScaledObjects (0 invalid)\\x1b[2J\\u2028\\u202e" in out
    assert "\x1b" not in out and "\u2028" not in out


def _big_manifest(path: pathlib.Path, count: int = 3000) -> None:
    path.write_text(yaml.safe_dump_all([documents.scaled_object(f"so{i}", target=f"w{i}") for i in range(count)]))


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: pathlib.Path) -> None:
    big = tmp_path / "big.yaml"
    _big_manifest(big)
    child = subprocess.Popen([sys.executable, "-m", "scaler", "validate", str(big)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    head = child.stdout.read(200)  # `| head -c 200`
    child.stdout.close()
    err = child.stderr.read()
    code = child.wait(120)
    child.stderr.close()
    assert len(head) == 200
    assert err == b"", err.decode()[-500:]
    assert code in (0, 1)


def test_checking_is_linear_in_the_number_of_objects(tmp_path: pathlib.Path) -> None:
    timings = []
    for count in (300, 1200):
        path = tmp_path / f"{count}.yaml"
        _big_manifest(path, count)
        documents_read = manifests.read([str(path)])
        began = time.process_time()
        validating.validate(documents_read)
        timings.append(time.process_time() - began)
    # 4x the objects: ~4x the time when linear, ~16x when quadratic; 8x leaves room for noise.
    assert timings[1] < 8 * timings[0] + 0.05, timings


@pytest.mark.parametrize(
    ("kind", "text", "says"),
    [
        pytest.param(params.Kind.INT_RANGES, "0-2000000000", "more than 10,000", id="range-bomb"),
        pytest.param(params.Kind.INT_RANGES, ",".join(["1"] * 10_001), "more than 10,000", id="list-bomb"),
        pytest.param(params.Kind.INT, "1" * 5000, "within int64", id="int-5000-digits"),
        pytest.param(params.Kind.FLOAT, "1e309", "out of range", id="float-inf"),
        pytest.param(params.Kind.DURATION, "9" * 400 + "s", "Go duration", id="duration-inf"),
    ],
)
def test_a_conversion_refuses_what_go_refuses(kind: params.Kind, text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        params._convert(kind, text)
