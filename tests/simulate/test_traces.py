"""Reading load traces: values hold until changed, `error` marks a failure, problems name file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler.core import traces


def test_parse_fills_and_marks() -> None:
    text = "# comment\ntime,orders,s1\n0,0,12.5\n\n30,40,\n90,error,3\n"
    trace = traces.parse(text, "t.csv")
    assert trace.columns == ("orders", "s1")
    assert trace.times == (0.0, 30.0, 90.0)
    assert trace.rows[0] == (0.0, 12.5)
    assert trace.rows[1] == (40.0, 12.5)  # the empty cell keeps the previous value
    assert isinstance(trace.rows[2][0], traces.Failure)
    assert trace.rows[2][0].line == 6
    assert trace.lines == (3, 5, 6)
    assert trace.end == 90.0


def test_error_word_is_case_insensitive_and_spaces_are_trimmed() -> None:
    trace = traces.parse("time , a\n0, ERROR \n", "t.csv")
    assert trace.columns == ("a",)
    assert isinstance(trace.rows[0][0], traces.Failure)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "t.csv: the trace is empty", id="empty"),
        pytest.param("when,a\n0,1\n", 't.csv:1: the first column must be "time", got "when"', id="no-time-column"),
        pytest.param("time\n0\n", "t.csv:1: no trigger columns", id="no-trigger-columns"),
        pytest.param("time,a,a\n0,1,1\n", 't.csv:1: column "a" appears twice', id="duplicate-column"),
        pytest.param("time,a,\n0,1,1\n", "t.csv:1: a column has no name", id="unnamed-column"),
        pytest.param("time,a\n", "t.csv: the trace has a header but no rows", id="no-rows"),
        pytest.param("time,a\n0,1\n10,lots\n", 't.csv:3: column "a": expected a number or "error", got "lots"',
                     id="bad-number"),
        pytest.param("time,a\n0,nan\n", 't.csv:2: column "a": expected a number or "error", got "nan"', id="nan"),
        pytest.param("time,a\n0,1\n10\n", "t.csv:3: expected 2 cells (time, a), got 1", id="short-row"),
        pytest.param("time,a\n5,1\n", 't.csv:2: column "time": the first row must be at time 0, got "5"',
                     id="first-row-not-at-zero"),
        pytest.param("time,a\n0,1\n10,2\n10,3\n", 't.csv:4: column "time": times must increase, got 10 after 10',
                     id="time-not-increasing"),
        pytest.param("time,a\n0,1\n-3,2\n", 't.csv:3: column "time": expected seconds ≥ 0, got "-3"',
                     id="negative-time"),
        pytest.param("time,a\nzero,1\n", 't.csv:2: column "time": expected seconds ≥ 0, got "zero"', id="bad-time"),
        pytest.param("time,a\n0,\n", 't.csv:2: column "a": the first row needs a value', id="empty-first-cell"),
        pytest.param('time,a\n0,"1\n', "t.csv:", id="unterminated-quote"),
    ],
)  # fmt: skip
def test_problems_name_file_line_and_column(text: str, message: str) -> None:
    with pytest.raises(traces.TraceError) as caught:
        traces.parse(text, "t.csv")
    assert str(caught.value).startswith(message)


def test_read_from_file(tmp_path: Path) -> None:
    path = tmp_path / "load.csv"
    path.write_text("time,s0\n0,1\n60,2\n", encoding="utf-8")
    trace = traces.read(str(path))
    assert trace.path == str(path)
    assert trace.rows == ((1.0,), (2.0,))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: p / "missing.csv", "no such file", id="missing"),
        pytest.param(lambda p: p, "is a directory", id="directory"),
    ],
)
def test_read_errors(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(traces.TraceError, match=message):
        traces.read(str(path))


def test_read_rejects_binary(tmp_path: Path) -> None:
    path = tmp_path / "load.csv"
    path.write_bytes(b"time,a\n0,\xff\n")
    with pytest.raises(traces.TraceError, match="not UTF-8"):
        traces.read(str(path))
