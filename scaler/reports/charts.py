"""The HTML report of a simulation: one self-contained page with inline SVG charts and the decisions table.

`render(result, trace_name=…)` returns the page as a string. Nothing is fetched from anywhere (no
scripts, fonts or stylesheets by URL), so the file can be mailed, attached to a ticket or opened offline.
Two charts share the time axis: replicas (with ready pods, min/max and the active periods) and the
metric values (with each trigger's target and activation threshold, and failed readings marked). Every
replica change carries a tooltip with the decision's explanation. Below them, the table of steps where
something changed.

Pure: builds a string; the command writes it.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Iterable, Sequence

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


class _Axes:
    def __init__(self, duration: float, top_value: float) -> None:
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
                f'<text x="{x:.1f}" y="{CHART_HEIGHT - BOTTOM + 16}" class="xlabel">{format_time(t)}</text>'
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


def _replica_chart(result: simulation.Result) -> str:
    steps = result.steps
    spec = result.spec
    peak = max(result.peak_replicas, 1)
    # Show maxReplicaCount when it is in reach; a far-away max would flatten the line.
    axes = _Axes(result.duration, spec.max_replica_count if spec.max_replica_count <= 2 * peak else peak)
    parts = axes.frame("replicas")
    # Active periods as a band along the top of the plot.
    band_y = TOP
    start: float | None = None
    for step in steps:
        if step.active and start is None:
            start = step.time
        elif not step.active and start is not None:
            parts.append(_band(axes, start, step.time, band_y))
            start = None
    if start is not None:
        parts.append(_band(axes, start, result.duration, band_y))
    for value, label in ((spec.max_replica_count, "max"), (spec.min_replica_count, "min")):
        if 0 < value <= axes.top:
            y = axes.y(value)
            parts.append(
                f'<line x1="{LEFT}" x2="{LEFT + axes.plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="limit"/>'
            )
            parts.append(
                f'<text x="{LEFT + axes.plot_w - 4}" y="{y - 4:.1f}" class="limitlabel">{label} {value}</text>'
            )
    initial = result.options.initial_replicas
    ready = _changes([(0.0, float(initial))] + [(s.time, float(s.ready)) for s in steps])
    replicas = _changes([(0.0, float(initial))] + [(s.time, float(s.replicas)) for s in steps])
    parts.append(f'<path d="{axes.steps_path(ready, result.duration)}" class="ready"/>')
    parts.append(f'<path d="{axes.steps_path(replicas, result.duration)}" class="replicas"/>')
    previous = initial
    for step in steps:
        if step.replicas != previous:
            color = OPERATOR_COLOR if step.source == simulation.OPERATOR else HPA_COLOR
            tip = f"{format_time(step.time)} ({step.time:g} s) {step.source}: {previous} → {step.replicas}\n{step.reason}\n{step.explanation}"
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


def _band(axes: _Axes, start: float, end: float, y: float) -> str:
    x0, x1 = axes.x(start), axes.x(end)
    return f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 0.5):.1f}" height="6" class="active"><title>active from {format_time(start)} to {format_time(end)}</title></rect>'


def _metric_chart(result: simulation.Result) -> str:
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
    axes = _Axes(result.duration, top * 1.05 if top > 0 else 1.0)
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
                    f'<path d="M{x - 3:.1f},{TOP + axes.plot_h - 3:.1f}l6,6m0,-6l-6,6" class="failure"><title>{_esc(name)}: failed reading at {format_time(t)}</title></path>'
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


def _table(result: simulation.Result) -> str:
    rows = []
    for step in simulation.changes(result.steps):
        rows.append(
            f'<tr class="{_esc(step.source)}"><td class="num">{step.time:g}</td><td>{format_time(step.time)}</td>'
            f'<td>{_esc(step.source)}</td><td class="num">{step.replicas}</td><td class="num">{step.ready}</td>'
            f"<td>{'yes' if step.active else 'no'}</td><td><code>{_esc(step.reason)}</code></td>"
            f"<td>{_esc(_metrics_text(step))}</td><td>{_esc(step.explanation)}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("s", "time", "source", "replicas", "ready", "active", "reason", "metrics", "explanation")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


_STYLE = """
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
tr.hpa td:nth-child(3){color:#1f6feb}
tr.operator td:nth-child(3){color:#e36209}
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
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f'<h1>{_esc(title)}</h1><p class="meta">{meta}</p>'
        f'<ul class="triggers">{"".join(triggers)}</ul>'
        f'<p class="meta">{_esc(summary(result))}</p>'
        f"{_replica_chart(result)}{_metric_chart(result)}"
        '<h2>Decisions</h2><p class="meta">The first and last step, and every step where the replicas, the '
        "activity or the reason changed. Hover a dot in the replica chart for its explanation.</p>"
        f"{_table(result)}</body></html>\n"
    )
