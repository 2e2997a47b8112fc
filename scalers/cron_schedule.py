"""The `cron` trigger type: `desiredReplicas` inside a time window given by two cron schedules
(KEDA `cron_scaler.go`).

Parameters: `timezone` (IANA name), `start` and `end` (five-field cron expressions in KEDA's robfig/cron
dialect; they must differ), `desiredReplicas` (an integer other than 0). The metric's target is 1, so
the HPA asks for `desiredReplicas` while the window is open.

The window rule is KEDA's: from `now`, find the next firing of `start` and of `end` (both strictly after
now, in the time zone); inside iff *not* (next start < next end and now < next start) and now <= next
end — that is, inside while the end comes before (or with) the next start. Inside, the value is
`desiredReplicas` and the trigger is active; outside, the value is 1 (KEDA's `defaultDesiredReplicas`)
and the trigger is inactive.

Next firings come from croniter, with robfig/cron's handling of daylight-saving gaps: a wall time that
does not exist that day (02:30 on a spring-forward night) does not fire (croniter would fire at 03:00).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import zoneinfo

import croniter

from scalers import base, params


@dataclasses.dataclass(frozen=True, kw_only=True)
class CronParams:
    timezone: str = params.param("timezone", doc="IANA time zone, e.g. Europe/Berlin or Etc/UTC")
    start: str = params.param("start", doc="cron expression (5 fields) at which the window opens")
    end: str = params.param("end", doc="cron expression (5 fields) at which the window closes")
    desired_replicas: int = params.param("desiredReplicas", doc="replicas wanted inside the window (not 0)")

    def validate(self) -> list[base.ParamProblem]:
        problems: list[base.ParamProblem] = []
        try:
            zone_of(self.timezone)
        except ValueError as error:
            problems.append(base.ParamProblem("metadata.timezone", str(error)))
        for key, expression in (("start", self.start), ("end", self.end)):
            error_text = schedule_error(expression)
            if error_text:
                shown = expression if len(expression) <= 120 else f"{expression[:120]}…"
                problems.append(base.ParamProblem(f"metadata.{key}", f'"{shown}": {error_text}'))
        if self.start == self.end:
            problems.append(
                base.ParamProblem("metadata.end", "start and end can not have exactly same time input")
            )
        if self.desired_replicas == 0:
            problems.append(base.ParamProblem("metadata.desiredReplicas", "must not be 0"))
        return problems


# Longer than any IANA name (the longest is about 30 characters); a longer one is not looked up at all.
MAX_ZONE_NAME = 64


def zone_of(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone `name`; ValueError naming it when unknown.

    The zone database is a directory tree: a name that is a directory (`Europe`), a file that is not a
    zone (`__pycache__`, `zone1970.tab`), too long a path or one the process may not read raises an
    `OSError` or `ValueError` from zoneinfo; each is the same "unknown time zone" for a ScaledObject."""
    shown = name if len(name) <= MAX_ZONE_NAME else f"{name[:MAX_ZONE_NAME]}…"
    unknown = ValueError(f'unknown time zone "{shown}" (expected an IANA name such as Europe/Berlin)')
    if len(name) > MAX_ZONE_NAME or name.endswith((".tab", ".zi")) or "__" in name:
        raise unknown
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise unknown from None


# --- robfig/cron's five-field dialect ----------------------------------------------------------------

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (name, low, high, names → number)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {n: i + 1 for i, n in enumerate(_MONTHS)}),
    ("day of week", 0, 6, {n: i for i, n in enumerate(_DAYS)}),
)
_ITEM = re.compile(
    r"(?P<range>\*|\?|(?P<low>[0-9A-Za-z]+)(?:-(?P<high>[0-9A-Za-z]+))?)(?:/(?P<step>[0-9]+))?"
)


def _number(text: str, low: int, high: int, names: dict[str, int]) -> int:
    if text.isdigit():
        value = int(text)
    elif text.lower() in names:
        value = names[text.lower()]
    else:
        raise ValueError(f'"{text}" is not a number')
    if not low <= value <= high:
        raise ValueError(f"{value} is outside {low}-{high}")
    return value


def schedule_error(expression: str) -> str | None:
    """Why `expression` is not a valid five-field cron schedule (robfig/cron's rules), or None."""
    fields = expression.split()
    if len(fields) != 5:
        return f"expected 5 fields (minute hour day-of-month month day-of-week), found {len(fields)}"
    for text, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for item in text.split(","):
            match = _ITEM.fullmatch(item)
            if match is None:
                return f'{name} field "{text}" is not valid'
            try:
                if match["low"] is not None:
                    first = _number(match["low"], low, high, names)
                    if match["high"] is not None and _number(match["high"], low, high, names) < first:
                        return f'{name} field "{text}": the range is reversed'
                if match["step"] is not None and int(match["step"]) == 0:
                    return f'{name} field "{text}": the step must be above 0'
            except ValueError as error:
                return f'{name} field "{text}": {error}'
    return None


def _croniter_form(expression: str) -> str:
    # robfig reads `?` as `*`; a single value with a step (`5/15`) means `5-<max>/15`.
    fields = expression.split()
    converted = []
    for text, (_name, _low, high, _names) in zip(fields, _FIELDS, strict=True):
        items = []
        for item in text.split(","):
            item = item.replace("?", "*")
            match = _ITEM.fullmatch(item)
            if match and match["step"] and match["low"] is not None and match["high"] is None:
                item = f"{match['low']}-{high}/{match['step']}"
            items.append(item)
        converted.append(",".join(items))
    return " ".join(converted)


def next_fire(expression: str, after: datetime.datetime) -> datetime.datetime:
    """The first firing of `expression` strictly after `after` (aware), skipping wall times that the
    zone jumps over (robfig/cron does not fire inside a daylight-saving gap)."""
    form = _croniter_form(expression)
    iterator = croniter.croniter(form, after)
    for _ in range(10_000):
        candidate: datetime.datetime = iterator.get_next(datetime.datetime)
        if croniter.croniter.match(form, candidate.replace(tzinfo=None)):
            return candidate
    raise ValueError(f'"{expression}" never fires')  # pragma: no cover - every valid schedule fires


# --- the window --------------------------------------------------------------------------------------

OUTSIDE_VALUE = 1.0  # KEDA's defaultDesiredReplicas, reported outside the window


def next_fires(p: CronParams, now: float) -> tuple[float, float]:
    """The next firings of `start` and `end` strictly after `now` (seconds since the epoch)."""
    moment = datetime.datetime.fromtimestamp(now, tz=zone_of(p.timezone))
    return next_fire(p.start, moment).timestamp(), next_fire(p.end, moment).timestamp()


def _inside(now: float, next_start: float, next_end: float) -> bool:
    start, end, current = int(next_start), int(next_end), int(now)
    if start < end and current < start:
        return False
    return current <= end


def in_window(p: CronParams, now: float) -> bool:
    """KEDA's window test at `now` (seconds since the epoch)."""
    return _inside(now, *next_fires(p, now))


def reading_at(p: CronParams, now: float) -> base.Reading:
    return _reading(p, in_window(p, now))


def _reading(p: CronParams, inside: bool) -> base.Reading:
    if inside:
        return base.Reading(value=base.reported_value(float(p.desired_replicas)), active=True)
    return base.Reading(value=OUTSIDE_VALUE, active=False)


def _name_part(expression: str) -> str:
    for old, new in ((" ", ""), ("*", "x"), ("/", "Sl"), ("?", "Qm"), (",", "Cm")):
        expression = expression.replace(old, new)
    return expression


def metric(p: CronParams, inputs: base.TriggerInputs) -> base.MetricSpec:
    if inputs.metric_type == "Utilization":
        raise base.ConfigError(
            [
                base.ParamProblem(
                    "metricType", "Utilization is only for cpu and memory; use AverageValue or Value"
                )
            ]
        )
    suffix = f"cron-{p.timezone}-{_name_part(p.start)}-{_name_part(p.end)}"
    return base.MetricSpec(
        name=base.metric_name(inputs.index, suffix),
        target_type=inputs.metric_type or "AverageValue",
        target=1.0,
    )


class CronScaler:
    """One built `cron` trigger; its only input is the clock."""

    def __init__(self, p: CronParams, inputs: base.TriggerInputs, context: base.BuildContext) -> None:
        self._params = p
        self._clock = context.clock
        self._metric = metric(p, inputs)
        # The next firings, valid from `_since` until the earlier of them: no firing lies in between, so
        # the window test needs croniter (~5 ms of CPU on the shared event loop) only once per firing,
        # not every tick (32 cron triggers at pollingInterval 1 s cost ~150 ms a tick before issue 9).
        self._since = float("inf")
        self._fires = (0.0, 0.0)

    @property
    def metric(self) -> base.MetricSpec:
        return self._metric

    async def read(self) -> base.Reading:
        now = self._clock()
        try:
            if not self._since <= now < min(self._fires):
                self._fires = next_fires(self._params, now)
                self._since = now
            return _reading(self._params, _inside(now, *self._fires))
        except ValueError as error:
            raise base.SourceError(str(error)) from None

    async def aclose(self) -> None:
        return None


def build(p: CronParams, inputs: base.TriggerInputs, context: base.BuildContext) -> base.Scaler:
    return CronScaler(p, inputs, context)


CRON: base.ScalerType[CronParams] = base.ScalerType(
    name="cron",
    params=CronParams,
    metric=metric,
    build=build,
    doc="desiredReplicas between two cron times in a time zone, 1 (inactive) outside.",
)
