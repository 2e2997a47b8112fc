"""The registry of trigger types over the `ebb.scalers` entry-point group, loaded lazily by type.

Ebb's own scalers are registered through the same group in Ebb's `pyproject.toml`, so there is no
switch statement and a third-party package adds a trigger type just by declaring an entry point whose
value is a `scalers.base.ScalerType`. Only the type a trigger asks for is imported; a plugin that fails
to import, is blocked, or is declared twice breaks only the triggers that use that type, with an error
that names the type and the distribution that provided it.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
from collections.abc import Callable, Iterable
from typing import Any

from scalers import base

GROUP = "ebb.scalers"
# Comma-separated trigger types the operator refuses to load (like pytest's `-p no:NAME`).
BLOCKED_ENV = "EBB_BLOCKED_SCALERS"


@dataclasses.dataclass(frozen=True)
class Provider:
    """Where a trigger type comes from, for diagnostics."""

    name: str
    value: str  # "module:attribute"
    distribution: str


EntryPointSource = Callable[[], Iterable[importlib.metadata.EntryPoint]]


def _installed_entry_points() -> Iterable[importlib.metadata.EntryPoint]:
    return importlib.metadata.entry_points(group=GROUP)


def _distribution_of(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "unknown distribution"
    return f"{dist.metadata['Name']} {dist.version}"


class Registry:
    """Trigger types by name. Entry points are listed once, and each one imported on first use."""

    def __init__(
        self,
        *,
        entry_points: EntryPointSource = _installed_entry_points,
        blocked: Iterable[str] | None = None,
    ) -> None:
        self._entry_points_source = entry_points
        self._listed: dict[str, list[importlib.metadata.EntryPoint]] | None = None
        self._loaded: dict[str, base.ScalerType[Any]] = {}
        self._failed: dict[str, base.PluginError] = {}
        self._runtime: dict[str, str] = {}
        if blocked is None:
            blocked = [n.strip() for n in os.environ.get(BLOCKED_ENV, "").split(",") if n.strip()]
        self._blocked = frozenset(blocked)

    def _listing(self) -> dict[str, list[importlib.metadata.EntryPoint]]:
        if self._listed is None:
            listed: dict[str, list[importlib.metadata.EntryPoint]] = {}
            seen: set[tuple[str, str]] = set()
            for ep in self._entry_points_source():
                # The same distribution can be visible twice (e.g. an editable install); count it once.
                if (ep.name, ep.value) in seen:
                    continue
                seen.add((ep.name, ep.value))
                listed.setdefault(ep.name, []).append(ep)
            self._listed = listed
        return self._listed

    def names(self) -> list[str]:
        """Every known trigger type (blocked ones excluded), sorted."""
        names = set(self._listing()) | set(self._loaded)
        return sorted(n for n in names if n not in self._blocked)

    def providers(self, name: str) -> list[Provider]:
        if name in self._runtime:
            return [Provider(name, self._runtime[name], "registered at runtime")]
        return [Provider(name, ep.value, _distribution_of(ep)) for ep in self._listing().get(name, [])]

    def register(self, scaler_type: base.ScalerType[Any], *, origin: str = "registered at runtime") -> None:
        """Add a trigger type directly (tests, embedding). A taken name is an error, as in pluggy."""
        name = scaler_type.name
        if name in self._loaded or name in self._listing():
            raise ValueError(f'trigger type "{name}" is already registered')
        self._loaded[name] = scaler_type
        self._runtime[name] = origin

    def get(self, name: str) -> base.ScalerType[Any]:
        """The trigger type `name`, importing its plugin on first use. Raises `base.PluginError`."""
        if name in self._blocked:
            raise base.PluginError(f'trigger type "{name}" is blocked by {BLOCKED_ENV}')
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        failed = self._failed.get(name)
        if failed is not None:
            raise failed
        try:
            scaler_type = self._load(name)
        except base.PluginError as error:
            self._failed[name] = error
            raise
        self._loaded[name] = scaler_type
        return scaler_type

    def _load(self, name: str) -> base.ScalerType[Any]:
        candidates = self._listing().get(name)
        if not candidates:
            known = ", ".join(self.names()) or "none"
            raise base.PluginError(f'unknown trigger type "{name}" (known types: {known})')
        if len(candidates) > 1:
            who = "; ".join(f"{ep.value} from {_distribution_of(ep)}" for ep in candidates)
            raise base.PluginError(f'trigger type "{name}" is provided more than once: {who}')
        entry_point = candidates[0]
        where = f"{entry_point.value} from {_distribution_of(entry_point)}"
        try:
            loaded = entry_point.load()
        except Exception as error:  # any import failure stays inside this trigger type
            raise base.PluginError(
                f'trigger type "{name}" could not be loaded ({where}): {type(error).__name__}: {error}'
            ) from error
        if not isinstance(loaded, base.ScalerType):
            raise base.PluginError(
                f'trigger type "{name}" ({where}) is a {type(loaded).__name__}, expected a scalers.base.ScalerType'
            )
        if loaded.name != name:
            raise base.PluginError(
                f'trigger type "{name}" ({where}) declares itself as "{loaded.name}"; the names must match'
            )
        return loaded


_default: Registry | None = None


def default() -> Registry:
    """The process-wide registry over the installed entry points."""
    global _default
    if _default is None:
        _default = Registry()
    return _default
