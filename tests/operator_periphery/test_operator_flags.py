"""`ebb operator`'s Lease flags: Go durations or seconds, checked as client-go checks them, each error
naming the flag and what was expected."""

from __future__ import annotations

import argparse

import pytest

from scaler.cli.commands import operator as operator_command


def settings(*argv: str) -> operator_command.assembly.Settings:
    parser = argparse.ArgumentParser()
    operator_command.add_arguments(parser)
    return operator_command.settings_from(parser.parse_args(list(argv)))


def test_defaults_are_client_gos() -> None:
    got = settings()
    assert (got.lease_duration, got.renew_deadline, got.retry_period) == (15.0, 10.0, 2.0)


@pytest.mark.parametrize(("argv", "expected"), [
    pytest.param(("--lease-duration", "6s", "--renew-deadline", "4s", "--retry-period", "1s"), (6.0, 4.0, 1.0),
                 id="go-durations"),
    pytest.param(("--lease-duration", "1m", "--renew-deadline", "30", "--retry-period", "500ms"), (60.0, 30.0, 0.5),
                 id="minutes-seconds-milliseconds"),
])
def test_durations(argv: tuple[str, ...], expected: tuple[float, float, float]) -> None:
    got = settings(*argv)
    assert (got.lease_duration, got.renew_deadline, got.retry_period) == expected


@pytest.mark.parametrize(("argv", "message"), [
    pytest.param(("--retry-period", "soon"),
                 "--retry-period: expected a duration such as 15s, 1m30s or a number of seconds, got 'soon'", id="not-a-duration"),
    pytest.param(("--lease-duration", "0"), "--lease-duration: expected a positive duration, got '0'", id="zero"),
    pytest.param(("--lease-duration", "5s"),
                 "--lease-duration, --renew-deadline, --retry-period: expected lease duration > renew deadline > retry "
                 "period, got 5s, 10s, 2s", id="shorter-than-the-renew-deadline"),
])
def test_bad_durations_are_refused_naming_the_flag(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        settings(*argv)
    assert str(raised.value) == message


@pytest.mark.parametrize(("argv", "expected"), [
    pytest.param((), 2.0, id="default"),
    pytest.param(("--metrics-cache", "0"), 0.0, id="off"),
    pytest.param(("--metrics-cache", "500ms"), 0.5, id="go-duration"),
    pytest.param(("--metrics-cache", "10"), 10.0, id="seconds"),
])
def test_metrics_cache_window(argv: tuple[str, ...], expected: float) -> None:
    assert settings(*argv).metrics_max_age == expected


@pytest.mark.parametrize(("argv", "message"), [
    pytest.param(("--metrics-cache=-1",), "--metrics-cache: expected a duration >= 0, got '-1'", id="negative"),
    pytest.param(("--metrics-cache", "often"),
                 "--metrics-cache: expected a duration such as 15s, 1m30s or a number of seconds, got 'often'",
                 id="not-a-duration"),
])
def test_bad_metrics_cache_windows_are_refused(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        settings(*argv)
    assert str(raised.value) == message
