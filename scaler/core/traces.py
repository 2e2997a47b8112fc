"""Load traces for `ebb simulate`: a CSV of metric values over time, read into a `Trace`.

The format:

    time,orders,s1
    0,0,12.5
    30,40,
    90,error,3

* The first column is `time`: seconds from the start of the simulation, strictly increasing, and the
  first row is at 0.
* Every other column is named after a trigger: its `name`, or `s<index>` (its position in
  `spec.triggers`). Which names exist is the simulator's business (`scaler.core.simulation`), not this
  module's: here a column is just a name.
* A cell holds that trigger's metric value from that time on. `error` marks a failed reading (the
  scaler could not reach its source); an empty cell keeps the previous value (not allowed in the first
  row). Blank lines and lines starting with `#` are skipped.

`parse(text, path)` is pure; `read(path)` reads the file. Problems raise `TraceError`, whose message
names the file, the line and the column (`trace.csv:4: column "orders": expected a number or "error",
got "lots"`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math

ERROR_WORD = "error"


class TraceError(ValueError):
    """The trace cannot be used; the message names the file, line and column."""


@dataclasses.dataclass(frozen=True)
class Failure:
    """A cell marked `error`: the scaler's query failed at that time."""

    line: int

    def __repr__(self) -> str:
        return "error"


Cell = float | Failure


@dataclasses.dataclass(frozen=True)
class Trace:
    """A parsed trace: `columns` (trigger names, in file order), and rows of (time, one cell per column).

    Empty cells are already filled with the value they hold. `header_line` and `lines` keep the
    source line numbers, so later checks (an unknown column) can point at the file.
    """

    path: str
    columns: tuple[str, ...]
    times: tuple[float, ...]
    rows: tuple[tuple[Cell, ...], ...]
    lines: tuple[int, ...]
    header_line: int = 1

    @property
    def end(self) -> float:
        return self.times[-1]

    def where(self, column: str | None = None) -> str:
        """`path:line` of the header, with the column when given, for messages about the columns."""
        place = f"{self.path}:{self.header_line}"
        return place if column is None else f'{place}: column "{column}"'


def _number(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse(text: str, path: str) -> Trace:
    """Parse a trace from `text`; `path` is only used in messages."""
    records = [
        (number, row)
        for number, row in _rows(text, path)
        if row and not (len(row) == 1 and not row[0].strip())
    ]
    records = [(n, r) for n, r in records if not r[0].lstrip().startswith("#")]
    if not records:
        raise TraceError(f"{path}: the trace is empty: expected a header line such as `time,s0`")
    header_line, header = records[0]
    names = [cell.strip() for cell in header]
    if not names or names[0] != "time":
        raise TraceError(
            f'{path}:{header_line}: the first column must be "time", got "{names[0] if names else ""}"'
        )
    columns = names[1:]
    if not columns:
        raise TraceError(f"{path}:{header_line}: no trigger columns: expected `time,<trigger name or s0>,…`")
    seen: set[str] = set()
    for column in columns:
        if not column:
            raise TraceError(
                f"{path}:{header_line}: a column has no name: expected a trigger name or s<index>"
            )
        if column in seen:
            raise TraceError(f'{path}:{header_line}: column "{column}" appears twice')
        seen.add(column)

    times: list[float] = []
    rows: list[tuple[Cell, ...]] = []
    lines: list[int] = []
    previous: list[Cell | None] = [None] * len(columns)
    for line, record in records[1:]:
        cells = [cell.strip() for cell in record]
        if len(cells) != len(names):
            raise TraceError(
                f"{path}:{line}: expected {len(names)} cells ({', '.join(names)}), got {len(cells)}"
            )
        time = _number(cells[0])
        if time is None or time < 0:
            raise TraceError(f'{path}:{line}: column "time": expected seconds ≥ 0, got "{cells[0]}"')
        if not times and time != 0:
            raise TraceError(
                f'{path}:{line}: column "time": the first row must be at time 0, got "{cells[0]}"'
            )
        if times and time <= times[-1]:
            raise TraceError(
                f'{path}:{line}: column "time": times must increase, got {cells[0]} after {times[-1]:g}'
            )
        row: list[Cell] = []
        for i, (column, raw) in enumerate(zip(columns, cells[1:], strict=True)):
            cell: Cell | None
            if raw == "":
                cell = previous[i]
                if cell is None:
                    raise TraceError(
                        f'{path}:{line}: column "{column}": the first row needs a value (or "error")'
                    )
            elif raw.lower() == ERROR_WORD:
                cell = Failure(line)
            else:
                cell = _number(raw)
                if cell is None:
                    raise TraceError(
                        f'{path}:{line}: column "{column}": expected a number or "error", got "{raw}"'
                    )
            previous[i] = cell
            row.append(cell)
        times.append(time)
        rows.append(tuple(row))
        lines.append(line)
    if not rows:
        raise TraceError(f"{path}: the trace has a header but no rows: expected a first row at time 0")
    return Trace(path, tuple(columns), tuple(times), tuple(rows), tuple(lines), header_line)


def _rows(text: str, path: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text), strict=True)
    out: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            out.append((reader.line_num, row))
    except csv.Error as exc:
        raise TraceError(f"{path}:{reader.line_num}: {exc}") from None
    return out


def read(path: str) -> Trace:
    """Read and parse the trace file at `path`."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise TraceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TraceError(f"{path}: is a directory, expected a CSV file") from None
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise TraceError(f"{path}: cannot read: {exc.strerror}") from None
    return parse(text, path)
