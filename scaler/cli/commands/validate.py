"""`ebb validate FILE…`: check the manifests you would `kubectl apply`, as KEDA's API server would.

Reads files, directories (their *.yaml, *.yml, *.json) or `-` (stdin); multi-document YAML and
`kind: List` are unwrapped. ScaledObjects, (Cluster)TriggerAuthentications, and the Secrets,
ConfigMaps, Deployments/StatefulSets, HPAs and LimitRanges among them are validated together (see
`scaler.core.validating`); other kinds are counted and ignored. Objects without a namespace are in
`default`, or in the namespace given with `-n/--namespace` (like kubectl).

Exit status: 0 when every ScaledObject and (Cluster)TriggerAuthentication is valid (warnings allowed),
1 when any is invalid, 2 when the input cannot be read (missing file, YAML syntax error, a document
without apiVersion/kind).

Text output (`-o text`, the default), one line per finding, errors as
`ScaledObject/<namespace>/<name>: <field>: <message>`, warnings prefixed with `warning: `, a line
`<object>: valid` for each valid object, and a summary line. JSON output (`-o json`) is one object:

    {"valid": bool,
     "scaledObjects": [{"object": "ScaledObject/ns/name", "source": "file.yaml#0", "valid": bool,
                        "errors": [{"field": ..., "message": ...}], "warnings": [...]}],
     "triggerAuthentications": [same shape],
     "otherObjects": [same shape: warnings about Secrets/ConfigMaps],
     "ignoredKinds": {"Service": 1}}

Every trigger's parameters are checked too, through the scaler registry (`scaler.triggers.trigger_checks`): a
trigger type whose plugin fails to load makes only the ScaledObjects that use it invalid.
"""

from __future__ import annotations

import argparse
import json
import sys

from scaler import cli
from scaler.cli.commands import manifest_inputs
from scaler.core import problems, validating

HELP = "check ScaledObject and TriggerAuthentication manifests as KEDA's API server would"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    manifest_inputs.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    report = manifest_inputs.checked(args)
    if report is None:
        return manifest_inputs.UNREADABLE
    code = 0 if report.valid else 1
    try:
        if args.output == "json":
            print(json.dumps(report.as_dict(), indent=2))
        else:
            print_text(report)
        sys.stdout.flush()
    except BrokenPipeError:  # `ebb validate … | head`: the verdict stands, quietly
        return cli.quiet_after_broken_pipe(code)
    return code


def print_text(report: validating.Report) -> None:
    for item in (*report.trigger_authentications, *report.scaled_objects, *report.others):
        for problem in (*item.errors, *item.warnings):
            print(problem)
        if item.valid and item not in report.others:
            print(problems.escape(f"{item.ref}: valid"))
    print(_summary(report))


def _summary(report: validating.Report) -> str:
    parts: list[str] = []
    for label, items in (
        ("ScaledObject", report.scaled_objects),
        ("(Cluster)TriggerAuthentication", report.trigger_authentications),
    ):
        if items:
            invalid = sum(1 for i in items if not i.valid)
            plural = "s" if len(items) != 1 else ""
            parts.append(f"{len(items)} {label}{plural} ({invalid} invalid)")
    if not parts:
        parts.append("no ScaledObjects or TriggerAuthentications found")
    ignored = sum(report.ignored.values())
    if ignored:
        parts.append(f"{ignored} other object{'s' if ignored != 1 else ''} ignored")
    return "checked " + ", ".join(parts)
