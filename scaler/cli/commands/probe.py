"""`ebb probe FILE…`: ask every trigger's event source once; print value, target and activity.

Inputs are the same as `ebb validate` (files, directories, `-` for stdin; multi-document YAML). Secrets,
ConfigMaps, workloads and (Cluster)TriggerAuthentications among the documents supply the triggers'
auth parameters and `…FromEnv` values. Each valid trigger is read once, all concurrently, within its
timeout. Output: a table (`-o text`, the default) or `{"triggers": [{"scaledObject", "index", "name",
"type", "metricName", "value", "target", "activationThreshold", "active", "error"}]}` (`-o json`).

Exit status: 0 when every trigger was read, 1 when any failed (an invalid ScaledObject counts as a
failure), 2 when the input cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from scaler.cli.commands import manifest_inputs
from scaler.core import problems
from scaler.triggers import probing

HELP = "read every trigger's source once and print its metric value, target and activity"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    manifest_inputs.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    report = manifest_inputs.checked(args)
    if report is None:
        return manifest_inputs.UNREADABLE
    rows = asyncio.run(probing.probe(report))
    if args.output == "json":
        print(json.dumps({"triggers": [row.as_dict() for row in rows]}, indent=2))
    else:
        print_table(rows)
    return 1 if probing.failed(rows) else 0


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def print_table(rows: list[probing.Row]) -> None:
    header = (
        "SCALEDOBJECT",
        "#",
        "NAME",
        "TYPE",
        "METRIC",
        "VALUE",
        "TARGET",
        "ACTIVATION",
        "ACTIVE",
        "ERROR",
    )
    table: list[tuple[str, ...]] = [header]
    for row in rows:
        table.append(
            tuple(problems.escape(cell) for cell in (  # names and errors quote the objects: one line each
                row.scaled_object,
                "-" if row.index is None else str(row.index),
                row.name or "-",
                row.type or "-",
                row.metric_name or "-",
                _number(row.value),
                _number(row.target),
                _number(row.activation_threshold),
                "-" if row.active is None else str(row.active).lower(),
                row.error or "",
            ))
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)]
        print("  ".join([*cells, line[-1]]).rstrip())
    if not rows:
        print("no ScaledObjects found")
