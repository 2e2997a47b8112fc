"""The HTML report of a simulation: one self-contained page with inline SVG charts and the decisions table.

`render(result, trace_name=…)` returns the page as a string. The charts and the table are drawn from a
`Timeline` (`timeline(result)` for a simulation); the operator's dashboard builds a `Timeline` from the
decision log and draws the live object page with the same `figures` and `decision_table`, so production
and a what-if read the same picture. Nothing is fetched from anywhere (no
scripts, fonts or stylesheets by URL), so the file can be mailed, attached to a ticket or opened offline.
Two charts share the time axis: replicas (with ready pods, min/max and the active periods) and the
metric values (with each trigger's target and activation threshold, and failed readings marked). Every
replica change carries a tooltip with the decision's explanation. Below them, the table of steps where
something changed.

Pure: builds a string; the command writes it.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from scaler.core import simulation

WIDTH = 1100
CHART_HEIGHT = 250
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 16, 34
COLORS = ("#1f6feb", "#d1242f", "#8250df", "#1a7f37", "#bf8700", "#0a7e8c", "#cf222e", "#6e7781")
OPERATOR_COLOR = "#e36209"
HPA_COLOR = "#1f6feb"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def format_time(seconds: float) -> str:
    """`90` → `1:30`, `3725` → `1:02:05`; fractions of a second are kept to one decimal."""
    sign = "-" if seconds < 0 else ""
    whole, tenth = divmod(round(abs(seconds) * 10), 10)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    tail = f"{secs:02d}" + (f".{tenth}" if tenth else "")
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{tail}"
    return f"{sign}{minutes}:{tail}"


def _nice_step(span: float, ticks: int) -> float:
    raw = max(span, 1e-9) / ticks
    magnitude = float(10.0 ** math.floor(math.log10(raw)))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _time_step(span: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400):
        if span / step <= 10:
            return step
    return _nice_step(span, 10)


@dataclasses.dataclass(frozen=True)
class Timeline:
    """What the charts and the table draw: steps on one time axis (seconds from its start).

    `origin` is the wall-clock time (seconds since the epoch) of t=0 for a live timeline: the axis then
    reads UTC clock times; None for a simulation (the axis reads elapsed time). `repeats` maps a step's
    index in `steps` to the number of identical decisions it stands for (the decision log's runs), and
    `run_ends` such a step's time to the time of the run's last decision.
    """

    duration: float
    initial_replicas: int
    min_replicas: int
    max_replicas: int
    steps: Sequence[simulation.Step]
    metric_names: Sequence[str]
    targets: Mapping[str, float]
    activations: Mapping[str, float]
    origin: float | None = None
    repeats: Mapping[int, int] = dataclasses.field(default_factory=dict)
    run_ends: Mapping[float, float] = dataclasses.field(default_factory=dict)  # a run's step time → its last time
    # When the ready pods were counted apart from the steps (the live workload): (time, ready) changes.
    ready_points: Sequence[tuple[float, int]] | None = None

    def label(self, t: float) -> str:
        """The time axis label of `t`."""
        if self.origin is None:
            return format_time(t)
        return datetime.datetime.fromtimestamp(self.origin + t, datetime.UTC).strftime("%H:%M:%S")

    def peak_replicas(self) -> int:
        return max((s.replicas for s in self.steps), default=self.initial_replicas)


def timeline(result: simulation.Result) -> Timeline:
    """A simulation's timeline."""
    spec = result.spec
    return Timeline(
        duration=result.duration,
        initial_replicas=result.options.initial_replicas,
        min_replicas=spec.min_replica_count,
        max_replicas=spec.max_replica_count,
        steps=result.steps,
        metric_names=result.metric_names,
        targets=result.targets,
        activations=result.activations,
    )


class _Axes:
    def __init__(self, duration: float, top_value: float, label: Callable[[float], str] = format_time) -> None:
        self.label = label
        self.duration = max(duration, 1.0)
        self.step = _nice_step(max(top_value, 1.0), 5)
        self.top = math.ceil(max(top_value, 1.0) / self.step) * self.step
        self.plot_w = WIDTH - LEFT - RIGHT
        self.plot_h = CHART_HEIGHT - TOP - BOTTOM

    def x(self, t: float) -> float:
        return LEFT + self.plot_w * (t / self.duration)

    def y(self, v: float) -> float:
        v = min(max(v, 0.0), self.top)
        return TOP + self.plot_h * (1 - v / self.top)

    def frame(self, y_label: str) -> list[str]:
        parts = [f'<rect x="{LEFT}" y="{TOP}" width="{self.plot_w}" height="{self.plot_h}" class="plot"/>']
        value = 0.0
        while value <= self.top + 1e-9:
            y = self.y(value)
            label = int(value) if float(value).is_integer() else f"{value:g}"
            parts.append(
                f'<line x1="{LEFT}" x2="{LEFT + self.plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            )
            parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="ylabel">{label}</text>')
            value += self.step
        t_step = _time_step(self.duration)
        t = 0.0
        while t <= self.duration + 1e-9:
            x = self.x(t)
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + self.plot_h}" class="grid"/>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{CHART_HEIGHT - BOTTOM + 16}" class="xlabel">{self.label(t)}</text>'
            )
            t += t_step
        parts.append(
            f'<text x="14" y="{TOP + self.plot_h / 2:.1f}" class="axis" '
            f'transform="rotate(-90 14 {TOP + self.plot_h / 2:.1f})">{_esc(y_label)}</text>'
        )
        return parts

    def steps_path(self, points: Sequence[tuple[float, float]], end: float) -> str:
        """An SVG path holding each value until the next point (a step chart)."""
        if not points:
            return ""
        commands = [f"M{self.x(points[0][0]):.1f},{self.y(points[0][1]):.1f}"]
        for (_, v0), (t1, v1) in itertools.pairwise(points):
            x1 = self.x(t1)
            commands.append(f"H{x1:.1f}")
            if v1 != v0:
                commands.append(f"V{self.y(v1):.1f}")
        commands.append(f"H{self.x(end):.1f}")
        return "".join(commands)


def _changes(samples: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for t, v in samples:
        if not out or out[-1][1] != v:
            out.append((t, v))
    return out


def _replica_chart(result: Timeline) -> str:
    steps = result.steps
    peak = max(result.peak_replicas(), 1)
    top_max = result.max_replicas
    # Show maxReplicaCount when it is in reach; a far-away max would flatten the line.
    axes = _Axes(result.duration, top_max if top_max <= 2 * peak else peak, result.label)
    parts = axes.frame("replicas")
    # Active periods as a band along the top of the plot.
    band_y = TOP
    start: float | None = None
    for step in steps:
        if step.active and start is None:
            start = step.time
        elif not step.active and start is not None:
            parts.append(_band(axes, start, step.time, band_y, result.label))
            start = None
    if start is not None:
        parts.append(_band(axes, start, result.duration, band_y, result.label))
    for value, label in ((result.max_replicas, "max"), (result.min_replicas, "min")):
        if 0 < value <= axes.top:
            y = axes.y(value)
            parts.append(
                f'<line x1="{LEFT}" x2="{LEFT + axes.plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="limit"/>'
            )
            parts.append(
                f'<text x="{LEFT + axes.plot_w - 4}" y="{y - 4:.1f}" class="limitlabel">{label} {value}</text>'
            )
    initial = result.initial_replicas
    if result.ready_points is not None:
        ready = _changes([(t, float(n)) for t, n in result.ready_points])
    else:
        ready = _changes([(0.0, float(initial))] + [(s.time, float(s.ready)) for s in steps])
    replicas = _changes([(0.0, float(initial))] + [(s.time, float(s.replicas)) for s in steps])
    parts.append(f'<path d="{axes.steps_path(ready, result.duration)}" class="ready"/>')
    parts.append(f'<path d="{axes.steps_path(replicas, result.duration)}" class="replicas"/>')
    previous = initial
    for step in steps:
        if step.replicas != previous:
            color = OPERATOR_COLOR if step.source == simulation.OPERATOR else HPA_COLOR
            tip = f"{result.label(step.time)} ({step.time:g} s) {step.source}: {previous} → {step.replicas}\n{step.reason}\n{step.explanation}"
            parts.append(
                f'<circle cx="{axes.x(step.time):.1f}" cy="{axes.y(step.replicas):.1f}" r="3.5" fill="{color}">'
                f"<title>{_esc(tip)}</title></circle>"
            )
            previous = step.replicas
    legend = [
        ("replicas", "#0b3d91", "solid"),
        ("ready pods", "#54aeff", "dash"),
        ("active", "#2da44e", "band"),
        ("change by the operator", OPERATOR_COLOR, "dot"),
        ("change by the HPA", HPA_COLOR, "dot"),
    ]
    return _svg(parts, "Replicas over time", legend)


def _band(axes: _Axes, start: float, end: float, y: float, label: Callable[[float], str]) -> str:
    x0, x1 = axes.x(start), axes.x(end)
    return f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 0.5):.1f}" height="6" class="active"><title>active from {label(start)} to {label(end)}</title></rect>'


def _metric_chart(result: Timeline) -> str:
    operator_steps = [s for s in result.steps if s.source != simulation.HPA]
    names = list(result.metric_names)
    top = 0.0
    for step in operator_steps:
        for name in names:
            value = step.metrics.get(name)
            if value is not None and value > top:
                top = value
    for name in names:
        top = max(top, result.targets.get(name, 0.0), result.activations.get(name, 0.0))
    axes = _Axes(result.duration, top * 1.05 if top > 0 else 1.0, result.label)
    parts = axes.frame("metric value")
    legend: list[tuple[str, str, str]] = []
    for i, name in enumerate(names):
        color = COLORS[i % len(COLORS)]
        samples: list[tuple[float, float]] = []
        failures: list[float] = []
        for step in operator_steps:
            value = step.metrics.get(name)
            if value is None:
                failures.append(step.time)
                end = result.run_ends.get(step.time)
                if end is not None:  # a run of identical failed polls: marked along its length
                    bottom = TOP + axes.plot_h
                    parts.append(
                        f'<line x1="{axes.x(step.time):.1f}" x2="{axes.x(end):.1f}" y1="{bottom}" y2="{bottom}" '
                        f'class="failure failrun"><title>{_esc(name)}: failed readings from {result.label(step.time)} '
                        f"to {result.label(end)}</title></line>"
                    )
            else:
                samples.append((step.time, value))
        if samples:
            path = axes.steps_path(_changes(samples), result.duration)
            parts.append(f'<path d="{path}" class="metric" stroke="{color}"/>')
        target = result.targets.get(name)
        if target is not None:
            y = axes.y(target)
            parts.append(
                f'<line x1="{LEFT}" x2="{LEFT + axes.plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="target" stroke="{color}">'
                f"<title>{_esc(name)} target {target:g}</title></line>"
            )
        activation = result.activations.get(name)
        if activation:
            y = axes.y(activation)
            parts.append(
                f'<line x1="{LEFT}" x2="{LEFT + axes.plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="activation" stroke="{color}">'
                f"<title>{_esc(name)} activation {activation:g}</title></line>"
            )
        last = -math.inf
        for t in failures:
            # One mark per run of failures would hide their length; one per pixel keeps the SVG small.
            x = axes.x(t)
            if x - last >= 1.0:
                parts.append(
                    f'<path d="M{x - 3:.1f},{TOP + axes.plot_h - 3:.1f}l6,6m0,-6l-6,6" class="failure"><title>{_esc(name)}: failed reading at {result.label(t)}</title></path>'
                )
                last = x
        legend.append((name, color, "solid"))
        if target is not None:
            legend.append((f"{name} target {target:g}", color, "dash"))
        if activation:
            legend.append((f"{name} activation {activation:g}", color, "dot-line"))
    legend.append(("failed reading", "#d1242f", "cross"))
    return _svg(parts, "Metric values (as the operator read them)", legend)


def _svg(parts: list[str], title: str, legend: Sequence[tuple[str, str, str]]) -> str:
    items = []
    for label, color, kind in legend:
        if kind == "band":
            swatch = f'<span class="swatch band" style="background:{color}"></span>'
        elif kind == "dot":
            swatch = f'<span class="swatch dot" style="background:{color}"></span>'
        elif kind == "cross":
            swatch = f'<span class="swatch cross" style="color:{color}">×</span>'
        else:
            style = {"solid": "solid", "dash": "dashed", "dot-line": "dotted"}[kind]
            swatch = f'<span class="swatch line" style="border-top:2px {style} {color}"></span>'
        items.append(f"<li>{swatch}{_esc(label)}</li>")
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {CHART_HEIGHT}" width="{WIDTH}" '
        f'height="{CHART_HEIGHT}" role="img" aria-label="{_esc(title)}">' + "".join(parts) + "</svg>"
    )
    return f'<figure><figcaption>{_esc(title)}</figcaption>{svg}<ul class="legend">{"".join(items)}</ul></figure>'


def _metrics_text(step: simulation.Step) -> str:
    return ", ".join(f"{k}={'error' if v is None else f'{v:g}'}" for k, v in step.metrics.items())


def who(step: simulation.Step, activations: Mapping[str, float]) -> str:
    """The triggers that made the step active (their value above their activation threshold), or the
    ones whose reading failed; "" when none did."""
    above = [name for name, value in step.metrics.items() if value is not None and value > activations.get(name, 0.0)]
    failed = [name for name, value in step.metrics.items() if value is None]
    parts = above + [f"{name} (failed)" for name in failed]
    return ", ".join(parts)


def decision_table(result: Timeline, rows: Sequence[int] | None = None) -> str:
    """The decision table: when, who (the trigger), what (the replica change) and why (reason and the
    one-line explanation). `rows` picks step indexes (default: every step); a step standing for a run of
    identical decisions says how many."""
    steps = result.steps
    chosen = range(len(steps)) if rows is None else rows
    out = []
    shown_before: dict[int, int] = {}
    last = result.initial_replicas
    for index, step in enumerate(steps):
        shown_before[index] = last
        last = step.replicas
    for index in chosen:
        step = steps[index]
        previous = shown_before[index]
        what = f"{previous} → {step.replicas}" if step.replicas != previous else f"stay {step.replicas}"
        runs = result.repeats.get(index, 1)
        run_text = f"×{runs}" if runs > 1 else ""
        out.append(
            f'<tr class="{_esc(step.source)}"><td class="num">{step.time:g}</td><td>{_esc(result.label(step.time))}</td>'
            f"<td>{_esc(step.source)}</td><td>{_esc(who(step, result.activations))}</td>"
            f'<td class="num">{_esc(what)}</td><td class="num">{step.ready}</td>'
            f"<td>{'yes' if step.active else 'no'}</td><td><code>{_esc(step.reason)}</code></td>"
            f"<td>{_esc(_metrics_text(step))}</td><td>{_esc(step.explanation)}</td>"
            f'<td class="num">{run_text}</td></tr>'
        )
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in ("s", "time", "source", "who", "what", "ready", "active", "reason", "metrics", "why",
                  "repeated")
    )
    return f'<table class="decisions"><thead><tr>{head}</tr></thead><tbody>{"".join(out)}</tbody></table>'


def figures(result: Timeline) -> str:
    """The two charts on one time axis: replicas (ready pods, min/max, activity) and the metric values
    (targets, activation thresholds, failed readings)."""
    return _replica_chart(result) + _metric_chart(result)


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:20px;margin:0 0 4px}
p.meta{margin:0 0 12px;color:#59636e}
ul.triggers{margin:0 0 16px;padding-left:20px}
figure{margin:0 0 18px}
figcaption{font-weight:600;margin:0 0 4px}
svg{display:block;max-width:100%;height:auto}
.plot{fill:#fff;stroke:#d1d9e0}
.grid{stroke:#eef1f4;stroke-width:1}
.xlabel{font-size:11px;fill:#59636e;text-anchor:middle}
.ylabel{font-size:11px;fill:#59636e;text-anchor:end}
.axis{font-size:12px;fill:#59636e;text-anchor:middle}
.replicas{fill:none;stroke:#0b3d91;stroke-width:2}
.ready{fill:none;stroke:#54aeff;stroke-width:1.5;stroke-dasharray:5 3}
.metric{fill:none;stroke-width:1.6}
.target{stroke-width:1.2;stroke-dasharray:6 4;opacity:.8}
.activation{stroke-width:1.2;stroke-dasharray:2 3;opacity:.8}
.limit{stroke:#8c959f;stroke-width:1;stroke-dasharray:3 3}
.limitlabel{font-size:11px;fill:#8c959f;text-anchor:end}
.active{fill:#2da44e;opacity:.55}
.failure{stroke:#d1242f;stroke-width:2;fill:none}
.failrun{stroke-width:4;opacity:.6}
ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 16px;padding:0;margin:4px 0 0 64px;font-size:12px;color:#59636e}
.swatch{display:inline-block;width:18px;margin-right:6px;vertical-align:middle}
.swatch.line{height:0}
.swatch.band{height:6px;opacity:.55}
.swatch.dot{width:8px;height:8px;border-radius:50%}
.swatch.cross{width:auto;font-weight:700}
table{border-collapse:collapse;font-size:12.5px;width:100%}
th,td{border-bottom:1px solid #eef1f4;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.hpa td:nth-child(3){color:#0550ae}
tr.operator td:nth-child(3){color:#bc4c00}
code{font-size:12px}
"""


def summary(result: simulation.Result) -> str:
    """One line: steps, replica changes, peak and final replicas, and when the target left and reached 0."""
    steps = result.steps
    peak = result.peak_replicas  # computed once: a property over every step
    text = (
        f"{len(steps)} steps, {result.replica_changes} replica changes, "
        f"peak {peak} replicas, final {result.final_replicas}"
    )
    woke = (
        next((s.time for s in steps if s.replicas > 0), None)
        if result.options.initial_replicas == 0
        else None
    )
    if woke is not None:
        text += f"; woke at {woke:g} s"
    peak_at = next((s.time for s in steps if s.replicas == peak), None)
    if peak_at is not None and peak > 0:
        text += f", peak first at {peak_at:g} s"
    if result.final_replicas == 0 and any(s.replicas > 0 for s in steps):
        last_up = max(i for i, s in enumerate(steps) if s.replicas > 0)
        if last_up + 1 < len(steps):
            text += f", back to 0 at {steps[last_up + 1].time:g} s"
    return text


def render(result: simulation.Result, *, trace_name: str) -> str:
    """The whole page."""
    spec = result.spec
    options = result.options
    mode = options.mode.value
    triggers = []
    by_metric = dict(
        zip(result.metric_names, [t for t in spec.triggers if t.type not in ("cpu", "memory")], strict=False)
    )
    for name in result.metric_names:
        trigger = by_metric.get(name)
        kind = f"{trigger.type}, {trigger.metric_type.value}" if trigger is not None else ""
        target = result.targets.get(name)
        target_text = "no target" if target is None else f"target {target:g}"
        label = f"{trigger.key}: " if trigger is not None else ""
        triggers.append(
            f"<li>{_esc(label)}<code>{_esc(name)}</code> ({_esc(kind)}): {target_text}, "
            f"activation {result.activations.get(name, 0):g}</li>"
        )
    if spec.advanced.scaling_modifiers is not None:
        modifiers = spec.advanced.scaling_modifiers
        triggers.append(
            f"<li>scalingModifiers: <code>{_esc(modifiers.formula)}</code> → composite-metric, "
            f"target {modifiers.target:g} ({modifiers.metric_type.value}), activation {modifiers.activation_target:g}</li>"
        )
    sync = f", HPA sync every {options.hpa_sync_period:g} s" if options.mode is simulation.Mode.HPA else ""
    meta = (
        f"mode <b>{_esc(mode)}</b> · pollingInterval {spec.polling_interval} s{sync} · cooldownPeriod "
        f"{spec.cooldown_period} s · replicas {spec.min_replica_count}–{spec.max_replica_count} · "
        f"pod startup {options.pod_startup:g} s · trace <code>{_esc(trace_name)}</code> · "
        f"{format_time(result.duration)} simulated"
    )
    title = f"ebb simulate: {spec.namespace}/{spec.name}"
    line = timeline(result)
    index = {id(step): i for i, step in enumerate(result.steps)}
    rows = [index[id(step)] for step in simulation.changes(result.steps)]
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f"<style>{STYLE}</style></head><body>"
        f'<h1>{_esc(title)}</h1><p class="meta">{meta}</p>'
        f'<ul class="triggers">{"".join(triggers)}</ul>'
        f'<p class="meta">{_esc(summary(result))}</p>'
        f"{figures(line)}"
        '<h2>Decisions</h2><p class="meta">The first and last step, and every step where the replicas, the '
        "activity or the reason changed. Hover a dot in the replica chart for its explanation.</p>"
        f"{decision_table(line, rows)}</body></html>\n"
    )
