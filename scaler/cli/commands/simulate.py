"""`ebb simulate SCALEDOBJECT.yaml --trace TRACE.csv`: replay a load trace, print the replica timeline.

Output: `-o table` (default; the steps where something changed, plus a summary), `-o json`
(`{"steps": [...]}`, every step), `-o html` (one self-contained page with the charts). Exit codes:
0 done, 1 the ScaledObject is invalid, 2 the input cannot be used (unreadable file, bad trace, a trace
that does not fit the ScaledObject, bad options).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from scaler.core import manifests, problems, simulation, specs, traces, validating
from scaler.reports import charts
from scaler.triggers import trigger_targets

HELP = "Replay a load trace (CSV) through the decision core and the HPA; print the replica timeline."

EPILOG = """\
The trace is a CSV whose first column is `time` (seconds from the start) and whose other columns are
named after the triggers (their `name`, or s0, s1 … by position); a value holds until the next row
that sets it, `error` marks a failed reading, an empty cell keeps the previous value.

exit codes: 0 done, 1 invalid ScaledObject, 2 unusable input (files, trace, options)
"""

OK, INVALID, UNUSABLE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("scaledobject", metavar="SCALEDOBJECT.yaml", help="manifest holding the ScaledObject")
    parser.add_argument("--trace", required=True, metavar="TRACE.csv", help="the load trace to replay")
    parser.add_argument(
        "--mode",
        choices=[m.value for m in simulation.Mode],
        default=None,
        help="hpa: operator for 0↔1, an HPA syncing every 15 s for 1↔N (KEDA's way); direct: the operator "
        "does both at each poll (default: the ScaledObject's ebb.dev/scaling-mode, else hpa)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        metavar="S",
        help="seconds to simulate (default: the trace's last time plus enough to cool down)",
    )
    parser.add_argument(
        "--initial-replicas", type=int, default=0, metavar="N", help="replicas at time 0 (default 0)"
    )
    parser.add_argument(
        "--pod-startup",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds before a new pod is ready (matters for Value targets; default 0)",
    )
    parser.add_argument("--name", help="which ScaledObject, when the file holds several")
    parser.add_argument(
        "-o", "--output", choices=["table", "json", "html"], default="table", help="output format"
    )
    parser.add_argument(
        "--all-steps", action="store_true", help="table: show every step, not only the changes"
    )


def _error(message: str, stream: TextIO) -> None:
    print(f"ebb simulate: {message}", file=stream)


def _load_spec(
    path: str, name: str | None, err: TextIO
) -> tuple[specs.ScaledObjectSpec, validating.Cluster] | int:
    """The ScaledObject to replay, and the other objects of the file (for `…FromEnv` and auth refs)."""
    try:
        read = manifests.read([path])
    except manifests.ManifestError as exc:
        _error(str(exc), err)
        return UNUSABLE
    documents = read.of_kind("ScaledObject")
    if name is not None:
        documents = tuple(d for d in documents if d.name == name)
    if not documents:
        which = f' named "{name}"' if name is not None else ""
        _error(f"{path}: no ScaledObject{which} in the file", err)
        return UNUSABLE
    if len(documents) > 1:
        names = ", ".join(d.name for d in documents)
        _error(f"{path}: {len(documents)} ScaledObjects ({names}): choose one with --name", err)
        return UNUSABLE
    try:
        spec = specs.parse_scaled_object(documents[0].body)
    except problems.InvalidObject as exc:
        for problem in exc.problems:
            print(str(problem), file=err)
        return INVALID
    return spec, validating.validate(read).cluster


def _fmt_metrics(step: simulation.Step) -> str:
    return ", ".join(f"{k}={'error' if v is None else f'{v:g}'}" for k, v in step.metrics.items())


def render_table(result: simulation.Result, *, trace_name: str, all_steps: bool = False) -> str:
    spec = result.spec
    options = result.options
    sync = f", HPA sync {options.hpa_sync_period:g} s" if options.mode is simulation.Mode.HPA else ""
    lines = [
        f"ScaledObject {spec.namespace}/{spec.name}: mode {options.mode.value}, pollingInterval "
        f"{spec.polling_interval} s{sync}, cooldownPeriod {spec.cooldown_period} s, replicas "
        f"{spec.min_replica_count}–{spec.max_replica_count}, pod startup {options.pod_startup:g} s",
        f"trace {trace_name}, {result.duration:g} s simulated",
    ]
    for name in result.metric_names:
        target = result.targets.get(name)
        target_text = "no target" if target is None else f"target {target:g}"
        lines.append(f"  {name}: {target_text}, activation {result.activations.get(name, 0):g}")
    if spec.advanced.scaling_modifiers is not None:
        modifiers = spec.advanced.scaling_modifiers
        lines.append(
            f"  composite-metric = {modifiers.formula}: target {modifiers.target:g} "
            f"({modifiers.metric_type.value}), activation {modifiers.activation_target:g}"
        )
    rows = list(result.steps) if all_steps else simulation.changes(result.steps)
    header = ("time", "t", "source", "replicas", "ready", "active", "reason", "metrics", "explanation")
    cells = [
        (
            f"{s.time:g}",
            charts.format_time(s.time),
            s.source,
            str(s.replicas),
            str(s.ready),
            "yes" if s.active else "no",
            s.reason,
            _fmt_metrics(s),
            s.explanation,
        )
        for s in rows
    ]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(header[:-1])]
    right = {0, 3, 4}

    def line(values: tuple[str, ...]) -> str:
        parts = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=False))
        ]
        return "  ".join([*parts, values[-1]]).rstrip()

    lines.append("")
    lines.append(line(header))
    lines.extend(line(c) for c in cells)
    lines.append("")
    shown = (
        "every step"
        if all_steps
        else f"{len(rows)} of {len(result.steps)} steps shown (changes, first, last)"
    )
    lines.append(f"summary: {charts.summary(result)} ({shown})")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    loaded = _load_spec(args.scaledobject, args.name, err)
    if isinstance(loaded, int):
        return loaded
    spec, cluster = loaded
    try:
        trace = traces.read(args.trace)
    except traces.TraceError as exc:
        _error(str(exc), err)
        return UNUSABLE
    mode = simulation.Mode(args.mode) if args.mode else simulation.Mode(spec.scaling_mode.value)
    options = simulation.Options(
        mode=mode,
        duration=args.duration,
        initial_replicas=args.initial_replicas,
        pod_startup=args.pod_startup,
    )
    try:
        result = simulation.simulate(
            spec, trace, options, targets_for=trigger_targets.for_scaled_object(spec, cluster)
        )
    except simulation.SimulationError as exc:
        _error(str(exc), err)
        return UNUSABLE
    if args.output == "json":
        json.dump({"steps": [s.as_dict() for s in result.steps]}, out, ensure_ascii=False)
        out.write("\n")
    elif args.output == "html":
        out.write(charts.render(result, trace_name=args.trace))
    else:
        out.write(render_table(result, trace_name=args.trace, all_steps=args.all_steps))
    return OK
