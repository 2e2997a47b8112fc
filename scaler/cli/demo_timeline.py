"""What `ebb demo` shows, without any I/O: the workload's queue-depth schedule, what one look at the
cluster saw (`Observation`), and the `Timeline` that turns a stream of observations into one line per
change, tracks the scaling cycle (0 → 1 → N → 0) and writes the summary.

Times are seconds since the ScaledObject was applied, passed in by the caller.
"""

from __future__ import annotations

import dataclasses
import enum
import math

# The shortest `--duration` that fits the load, the cooldown (5 s) and the polls around it.
MIN_DURATION = 20.0


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The queue depth over time: `idle` s at 0, a linear rise to `peak` over `rise` s, held for `hold`
    s, drained linearly to 0 over `drain` s, then 0 again."""

    idle: float
    rise: float
    hold: float
    drain: float
    peak: int

    @classmethod
    def for_duration(cls, duration: float, peak: int = 60) -> Schedule:
        """A schedule whose load ends halfway through `duration`, leaving the rest for the cooldown and
        the scale to zero (5 s of cooldown plus a poll or two)."""
        if duration < MIN_DURATION:
            raise ValueError(f"duration: expected at least {MIN_DURATION:g} s, got {duration:g}")
        return cls(idle=0.08 * duration, rise=0.06 * duration, hold=0.16 * duration, drain=0.2 * duration, peak=peak)

    @property
    def rise_at(self) -> float:
        return self.idle

    @property
    def drain_at(self) -> float:
        return self.idle + self.rise + self.hold

    @property
    def empty_at(self) -> float:
        """When the queue is empty again for good."""
        return self.drain_at + self.drain

    def depth(self, elapsed: float) -> int:
        if elapsed < self.idle or elapsed >= self.empty_at:
            return 0
        if elapsed < self.idle + self.rise:
            return math.ceil(self.peak * (elapsed - self.idle) / self.rise)
        if elapsed < self.drain_at:
            return self.peak
        return math.ceil(self.peak * (self.empty_at - elapsed) / self.drain)

    def describe(self) -> str:
        return (
            f"0 for {self.idle:.1f} s, rising to {self.peak} by {self.idle + self.rise:.1f} s, "
            f"held until {self.drain_at:.1f} s, drained to 0 by {self.empty_at:.1f} s"
        )


@dataclasses.dataclass(frozen=True)
class Observation:
    """One look: the queue, the latest decision (None before the first) and the Deployment."""

    elapsed: float
    depth: int
    reason: str | None
    explanation: str
    replicas: int
    ready: int


class Phase(str, enum.Enum):
    WAITING = "waiting for work"  # at 0, nothing happened yet
    AWAKE = "awake"  # scaled from zero
    SCALED_OUT = "scaled out"  # above one replica
    DONE = "back at zero"  # the cycle is complete


def format_line(observation: Observation, previous: Observation | None, *, explain: bool = True) -> str:
    """One line: time, queue, replicas (before→after when they changed), ready pods, the decision's reason
    and, when `explain`, its explanation."""
    before = previous.replicas if previous is not None else observation.replicas
    replicas = f"{before}→{observation.replicas}" if before != observation.replicas else f"{observation.replicas}"
    reason = observation.reason or "(no decision yet)"
    line = (
        f"{observation.elapsed:6.1f}s  queue {observation.depth:3d}  replicas {replicas:<5}  "
        f"ready {observation.ready}/{observation.replicas}  {reason}"
    )
    return f"{line}: {observation.explanation}" if explain and observation.explanation else line


class Timeline:
    """Observations in, one line per change out. A change is a new decision reason, replica count or
    ready-pod count; a decision that only restates the same facts prints nothing, and an explanation
    already shown is not repeated (pods becoming ready print a short line).

    `scale_out` says whether the cycle must go above one replica (both modes of `ebb demo`) or only
    0 → 1 → 0 (a cluster where nothing does 1↔N)."""

    def __init__(self, *, scale_out: bool = True) -> None:
        self.scale_out = scale_out
        self.phase = Phase.WAITING
        self.changes: list[Observation] = []
        self.peak = 0
        self.peak_at: float | None = None
        self.work_at: float | None = None  # the first non-empty queue
        self.woke_at: float | None = None  # the first replica asked for
        self.ready_at: float | None = None  # the first replica ready
        self.empty_at: float | None = None  # the queue empty after the work
        self.zero_at: float | None = None  # back at zero replicas
        self._last: Observation | None = None
        self._explained: tuple[str | None, str] | None = None

    @property
    def completed(self) -> bool:
        return self.phase is Phase.DONE

    def observe(self, observation: Observation) -> str | None:
        """Take one observation; the line to print when something changed."""
        self._track(observation)
        last = self._last
        self._last = observation
        if last is not None and (last.reason, last.replicas, last.ready) == (
            observation.reason,
            observation.replicas,
            observation.ready,
        ):
            return None
        self.changes.append(observation)
        explained = (observation.reason, observation.explanation)
        explain, self._explained = explained != self._explained, explained
        return format_line(observation, last, explain=explain)

    def _track(self, o: Observation) -> None:
        if o.depth > 0 and self.work_at is None:
            self.work_at = o.elapsed
        if o.replicas > self.peak:
            self.peak, self.peak_at = o.replicas, o.elapsed
        if self.phase is Phase.WAITING and o.replicas >= 1:
            self.phase, self.woke_at = Phase.AWAKE, o.elapsed
        if self.woke_at is not None and self.ready_at is None and o.ready >= 1:
            self.ready_at = o.elapsed
        if self.phase is Phase.AWAKE and (o.replicas > 1 or not self.scale_out):
            self.phase = Phase.SCALED_OUT
        if self.work_at is not None and o.depth == 0 and self.empty_at is None and self.phase is not Phase.WAITING:
            self.empty_at = o.elapsed
        elif o.depth > 0:
            self.empty_at = None
        if self.phase is Phase.SCALED_OUT and o.replicas == 0 and o.ready == 0:
            self.phase, self.zero_at = Phase.DONE, o.elapsed

    def summary(self, *, decisions: int) -> list[str]:
        """The closing lines: how long each part of the cycle took."""

        def since(end: float | None, start: float | None) -> str:
            return "—" if end is None or start is None else f"{end - start:.1f} s"

        lines = [
            f"cycle: {'complete' if self.completed else 'incomplete (' + self.phase.value + ')'}",
            f"  from the first work to a replica asked for: {since(self.woke_at, self.work_at)}"
            f" (ready {since(self.ready_at, self.work_at)})",
            f"  peak: {self.peak} replica{'s' if self.peak != 1 else ''}"
            + (f" at {self.peak_at:.1f} s" if self.peak_at is not None else ""),
            f"  from the queue emptying to zero replicas: {since(self.zero_at, self.empty_at)}"
            " (the cooldown runs from the last poll that saw work)",
            f"  changes shown: {len(self.changes)}; decisions recorded: {decisions}",
        ]
        return lines
