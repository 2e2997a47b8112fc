"""The `cron` scaler: KEDA's parameter rules and metric names, and the window rule at pinned instants —
windows crossing midnight, weekday windows, daylight-saving changes — through a scaler whose clock is
the `BuildContext` clock."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from scalers import base, connections, cron_schedule, params

CRON = cron_schedule.CRON
THURSDAYS = {"timezone": "Etc/UTC", "start": "0 0 * * Thu", "end": "59 23 * * Thu", "desiredReplicas": "10"}


def inputs(
    metadata: dict[str, str], *, index: int = 0, metric_type: str = "AverageValue"
) -> base.TriggerInputs:
    return base.TriggerInputs(type="cron", index=index, metadata=metadata, metric_type=metric_type)


def problems(metadata: dict[str, str]) -> list[str]:
    try:
        params.parse(CRON.params, inputs(metadata))
    except base.ConfigError as error:
        return [str(p) for p in error.problems]
    return []


# --- parameters (KEDA cron_scaler_test.go, plus the checks KEDA leaves to the first poll) ------------


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param(THURSDAYS, [], id="valid"),
        pytest.param(
            {},
            [
                'metadata.timezone: missing required parameter "timezone"',
                'metadata.start: missing required parameter "start"',
                'metadata.end: missing required parameter "end"',
                'metadata.desiredReplicas: missing required parameter "desiredReplicas"',
            ],
            id="nothing-every-error-at-once",
        ),
        pytest.param(
            {"timezone": "Asia/Kolkata", "start": "30 * * * *", "end": "45 * * * *"},
            ['missing required parameter "desiredReplicas"'],
            id="no-desired-replicas",
        ),
        pytest.param(
            {"start": "30 * * * *", "end": "45 * * * *", "desiredReplicas": "10"},
            ['missing required parameter "timezone"'],
            id="no-timezone",
        ),
        pytest.param({**THURSDAYS, "start": "30-33 * * * *"}, [], id="minute-range"),
        pytest.param({**THURSDAYS, "end": "45-50 * * * *"}, [], id="end-range"),
        pytest.param(
            {**THURSDAYS, "start": "-30 * * * *"},
            ['metadata.start: "-30 * * * *": minute field'],
            id="negative-minute",
        ),
        pytest.param(
            {**THURSDAYS, "end": "50 * * -3 *"},
            ['metadata.end: "50 * * -3 *": month field'],
            id="negative-month",
        ),
        pytest.param(
            {**THURSDAYS, "end": "0 0 * * Thu"},
            ["start and end can not have exactly same time input"],
            id="same",
        ),
        pytest.param({**THURSDAYS, "start": "0 0 * *"}, ["expected 5 fields"], id="four-fields"),
        pytest.param({**THURSDAYS, "start": "0 0 0 * * Thu"}, ["expected 5 fields"], id="six-fields-seconds"),
        pytest.param({**THURSDAYS, "start": "@daily"}, ["expected 5 fields"], id="descriptor"),
        pytest.param(
            {**THURSDAYS, "start": "0 25 * * *"}, ['hour field "25": 25 is outside 0-23'], id="hour-25"
        ),
        pytest.param({**THURSDAYS, "start": "0 0 * * 7"}, ["7 is outside 0-6"], id="sunday-as-7"),
        pytest.param({**THURSDAYS, "start": "0 0 L * *"}, ['"L" is not a number'], id="quartz-L"),
        pytest.param({**THURSDAYS, "start": "0 0 ? * Thu"}, [], id="question-mark"),
        pytest.param({**THURSDAYS, "start": "5/15 * * * *"}, [], id="value-with-step"),
        pytest.param({**THURSDAYS, "start": "0 0 1 JAN *"}, [], id="month-name"),
        pytest.param(
            {**THURSDAYS, "timezone": "Mars/Olympus"}, ['unknown time zone "Mars/Olympus"'], id="unknown-zone"
        ),
        pytest.param({**THURSDAYS, "timezone": "../../etc/passwd"}, ["unknown time zone"], id="zone-path"),
        pytest.param(
            {**THURSDAYS, "desiredReplicas": "0"},
            ["metadata.desiredReplicas: must not be 0"],
            id="zero-replicas",
        ),
        pytest.param(
            {**THURSDAYS, "desiredReplicas": "2.5"},
            ["metadata.desiredReplicas: expected an integer"],
            id="fractional",
        ),
        pytest.param({**THURSDAYS, "desiredReplicas": " 3 "}, [], id="trimmed"),
    ],
)
def test_parameters(metadata: dict[str, str], expected: list[str]) -> None:
    found = problems(metadata)
    assert len(found) == len(expected), found
    for fragment, problem in zip(expected, found, strict=True):
        assert fragment in problem, found


# --- metric names (KEDA's examples) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "index", "name"),
    [
        pytest.param(THURSDAYS, 0, "s0-cron-Etc-UTC-00xxThu-5923xxThu", id="keda-thursday"),
        pytest.param(
            {**THURSDAYS, "start": "0 */2 * * *", "end": "0 1-23/2 * * *"},
            1,
            "s1-cron-Etc-UTC-0xSl2xxx-01-23Sl2xxx",
            id="keda-every-two-hours",
        ),
        pytest.param(
            {**THURSDAYS, "start": "0,30 * * * *", "end": "15,45 * * * *"},
            2,
            "s2-cron-Etc-UTC-0Cm30xxxx-15Cm45xxxx",
            id="keda-commas",
        ),
        pytest.param(
            {**THURSDAYS, "timezone": "America/New_York", "start": "0 9 ? * 1-5", "end": "0 17 ? * 1-5"},
            0,
            "s0-cron-America-New_York-09Qmx1-5-017Qmx1-5",
            id="question-mark-and-zone",
        ),
    ],
)
def test_metric_name(metadata: dict[str, str], index: int, name: str) -> None:
    trigger = inputs(metadata, index=index)
    spec = CRON.metric(params.parse(CRON.params, trigger).value, trigger)
    assert spec.name == name
    assert (spec.target_type, spec.target) == ("AverageValue", 1.0)


def test_value_metric_type_and_utilization() -> None:
    trigger = inputs(THURSDAYS, metric_type="Value")
    assert CRON.metric(params.parse(CRON.params, trigger).value, trigger).target_type == "Value"
    trigger = inputs(THURSDAYS, metric_type="Utilization")
    with pytest.raises(base.ConfigError, match="Utilization is only for cpu and memory"):
        CRON.metric(params.parse(CRON.params, trigger).value, trigger)


# --- the window --------------------------------------------------------------------------------------


def at(zone: str, text: str) -> float:
    """Seconds since the epoch of a wall time in `zone` (`fold` picks the second of a repeated hour)."""
    naive = datetime.datetime.fromisoformat(text.removesuffix("+fold"))
    return naive.replace(tzinfo=zoneinfo.ZoneInfo(zone), fold=int(text.endswith("+fold"))).timestamp()


def utc(text: str) -> float:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC).timestamp()


WEEKDAYS = {
    "timezone": "Europe/Berlin",
    "start": "0 9 * * 1-5",
    "end": "0 17 * * 1-5",
    "desiredReplicas": "4",
}
OVERNIGHT = {"timezone": "Europe/Berlin", "start": "0 22 * * *", "end": "0 6 * * *", "desiredReplicas": "3"}
EVEN_HOURS = {"timezone": "Etc/UTC", "start": "0 */2 * * *", "end": "0 1-23/2 * * *", "desiredReplicas": "10"}
BERLIN_DAY = {"timezone": "Europe/Berlin", "start": "0 9 * * *", "end": "0 17 * * *", "desiredReplicas": "5"}
BERLIN_GAP = {"timezone": "Europe/Berlin", "start": "30 2 * * *", "end": "0 4 * * *", "desiredReplicas": "5"}
NEW_YORK_REPEAT = {
    "timezone": "America/New_York",
    "start": "0 1 * * *",
    "end": "0 2 * * *",
    "desiredReplicas": "5",
}


@pytest.mark.parametrize(
    ("metadata", "now", "inside"),
    [
        # 2024-01-04 is a Thursday.
        pytest.param(THURSDAYS, utc("2024-01-04T12:00:00"), True, id="thursday-noon"),
        pytest.param(THURSDAYS, utc("2024-01-04T00:00:00"), True, id="thursday-at-the-start-instant"),
        pytest.param(THURSDAYS, utc("2024-01-03T23:59:59"), False, id="wednesday-last-second"),
        pytest.param(THURSDAYS, utc("2024-01-04T23:58:59"), True, id="thursday-last-full-minute"),
        pytest.param(THURSDAYS, utc("2024-01-04T23:59:00"), False, id="thursday-at-the-end-instant"),
        pytest.param(THURSDAYS, utc("2024-01-05T12:00:00"), False, id="friday"),
        # Weekday office hours in Berlin (2024-01-08 is a Monday).
        pytest.param(WEEKDAYS, at("Europe/Berlin", "2024-01-08T08:59:59"), False, id="monday-before-nine"),
        pytest.param(WEEKDAYS, at("Europe/Berlin", "2024-01-08T09:00:00"), True, id="monday-nine"),
        pytest.param(WEEKDAYS, at("Europe/Berlin", "2024-01-12T16:59:00"), True, id="friday-before-five"),
        pytest.param(WEEKDAYS, at("Europe/Berlin", "2024-01-12T17:00:00"), False, id="friday-five"),
        pytest.param(WEEKDAYS, at("Europe/Berlin", "2024-01-13T12:00:00"), False, id="saturday"),
        pytest.param(WEEKDAYS, utc("2024-01-08T08:30:00"), True, id="nine-thirty-berlin-is-eight-thirty-utc"),
        # A window across midnight.
        pytest.param(OVERNIGHT, at("Europe/Berlin", "2024-01-08T21:59:00"), False, id="overnight-before"),
        pytest.param(
            OVERNIGHT, at("Europe/Berlin", "2024-01-08T23:00:00"), True, id="overnight-before-midnight"
        ),
        pytest.param(
            OVERNIGHT, at("Europe/Berlin", "2024-01-09T03:00:00"), True, id="overnight-after-midnight"
        ),
        pytest.param(OVERNIGHT, at("Europe/Berlin", "2024-01-09T06:00:30"), False, id="overnight-after"),
        # Every other hour (KEDA's TestIsActiveRange).
        pytest.param(EVEN_HOURS, utc("2024-01-04T10:30:00"), True, id="even-hour"),
        pytest.param(EVEN_HOURS, utc("2024-01-04T11:30:00"), False, id="odd-hour"),
        # Spring forward in Berlin, 2024-03-31 02:00 CET -> 03:00 CEST: the window follows the wall clock.
        pytest.param(BERLIN_DAY, utc("2024-03-31T06:30:00"), False, id="dst-spring-08-30-cest"),
        pytest.param(BERLIN_DAY, utc("2024-03-31T07:30:00"), True, id="dst-spring-09-30-cest"),
        pytest.param(BERLIN_DAY, utc("2024-03-31T14:59:00"), True, id="dst-spring-16-59-cest"),
        pytest.param(BERLIN_DAY, utc("2024-03-31T15:00:00"), False, id="dst-spring-17-00-cest"),
        pytest.param(BERLIN_DAY, utc("2024-03-30T08:30:00"), True, id="day-before-09-30-cet"),
        # A start inside the skipped hour never fires that day (robfig/cron), so from 01:30 CET the next
        # end (04:00 CEST) comes before the next start (tomorrow 02:30): KEDA counts that as inside.
        pytest.param(BERLIN_GAP, utc("2024-03-31T00:30:00"), True, id="dst-gap-start-skipped"),
        pytest.param(BERLIN_GAP, utc("2024-03-30T00:30:00"), False, id="day-before-gap-01-30"),
        pytest.param(BERLIN_GAP, utc("2024-03-30T02:00:00"), True, id="day-before-gap-03-00"),
        # Fall back in New York, 2024-11-03 02:00 EDT -> 01:00 EST: 01:00 happens twice, so during the first
        # 01:30 the next start is the second 01:00, before the next end: outside; the second 01:30 is inside.
        pytest.param(
            NEW_YORK_REPEAT, at("America/New_York", "2024-11-03T01:30:00"), False, id="dst-fall-first-pass"
        ),
        pytest.param(
            NEW_YORK_REPEAT,
            at("America/New_York", "2024-11-03T01:30:00+fold"),
            True,
            id="dst-fall-second-pass",
        ),
        pytest.param(NEW_YORK_REPEAT, at("America/New_York", "2024-11-04T01:30:00"), True, id="next-day"),
    ],
)
async def test_window(metadata: dict[str, str], now: float, inside: bool) -> None:
    trigger = inputs(metadata)
    p = params.parse(CRON.params, trigger).value
    scaler = CRON.build(p, trigger, base.BuildContext(clients=connections.SharedClients(), clock=lambda: now))
    reading = await scaler.read()
    desired = float(metadata["desiredReplicas"])
    assert reading == (base.Reading(desired, True) if inside else base.Reading(1.0, False))
    await scaler.aclose()


@pytest.mark.parametrize(
    ("desired", "now", "expected"),
    [
        pytest.param("10", utc("2024-01-04T12:00:00"), base.Reading(10.0, True), id="inside"),
        pytest.param("10", utc("2024-01-05T12:00:00"), base.Reading(1.0, False), id="outside-reports-one"),
        pytest.param("-2", utc("2024-01-04T12:00:00"), base.Reading(0.0, True), id="negative-reported-as-0"),
    ],
)
def test_values(desired: str, now: float, expected: base.Reading) -> None:
    p = params.parse(CRON.params, inputs({**THURSDAYS, "desiredReplicas": desired})).value
    assert cron_schedule.reading_at(p, now) == expected


async def test_the_clock_is_read_on_every_poll() -> None:
    times = iter([utc("2024-01-03T12:00:00"), utc("2024-01-04T12:00:00")])
    trigger = inputs(THURSDAYS)
    scaler = CRON.build(
        params.parse(CRON.params, trigger).value,
        trigger,
        base.BuildContext(clients=connections.SharedClients(), clock=lambda: next(times)),
    )
    readings = [await scaler.read(), await scaler.read()]
    assert readings == [base.Reading(1.0, False), base.Reading(10.0, True)]


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param(THURSDAYS, id="thursdays"),
        pytest.param(NEW_YORK_REPEAT, id="dst-new-york"),
        pytest.param({"timezone": "Europe/Berlin", "start": "*/7 * * * *", "end": "3-59/11 * * * *",
                      "desiredReplicas": "3"}, id="every-few-minutes"),
    ],
)
async def test_a_scaler_that_remembers_its_next_firings_reads_as_the_window_rule(metadata: dict[str, str]) -> None:
    # The scaler computes the next firings once per firing, not every poll (issue 9: 32 cron triggers
    # cost 150 ms of the shared event loop per tick); every poll must still read as the rule at that time.
    trigger = inputs(metadata)
    p = params.parse(CRON.params, trigger).value
    now = [utc("2024-11-02T22:00:00")]
    scaler = CRON.build(p, trigger, base.BuildContext(clients=connections.SharedClients(), clock=lambda: now[0]))
    for _ in range(600):  # 600 polls 97 s apart: about 16 hours, across the New York fall-back night
        assert await scaler.read() == cron_schedule.reading_at(p, now[0]), now[0]
        now[0] += 97.0
    await scaler.aclose()
