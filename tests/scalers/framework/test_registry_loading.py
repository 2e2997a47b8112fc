"""The registry over the `ebb.scalers` entry-point group: lazy loading by type, failures that stay
inside their own type, blocked names, duplicates, wrong objects, name mismatches, provider diagnostics
(through the `entry_points=` injection, with real modules written to a temp dir), and the real
installed entry points: every built-in type loads."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from scalers import base, cron_schedule, registry

BUILT_IN = [
    "cpu",
    "cron",
    "kafka",
    "memory",
    "metrics-api",
    "prometheus",
    "rabbitmq",
    "redis",
    "redis-cluster",
    "redis-cluster-streams",
    "redis-sentinel",
    "redis-sentinel-streams",
    "redis-streams",
]

PLUGIN_SOURCE = """
import dataclasses
from scalers import base, cron_schedule

GOOD = dataclasses.replace(cron_schedule.CRON, name="good")
MISNAMED = dataclasses.replace(cron_schedule.CRON, name="something-else")
NOT_A_TYPE = {"name": "dict"}
"""


@pytest.fixture
def plugin_modules(tmp_path: Path) -> Iterator[str]:
    """Two real importable modules, one good and one that raises on import; unique names per test."""
    suffix = tmp_path.name.replace("-", "_")
    good, broken = f"ebb_good_{suffix}", f"ebb_broken_{suffix}"
    (tmp_path / f"{good}.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    (tmp_path / f"{broken}.py").write_text("raise RuntimeError('plugin exploded on import')\n")
    sys.path.insert(0, str(tmp_path))
    yield suffix
    sys.path.remove(str(tmp_path))
    for name in (good, broken):
        sys.modules.pop(name, None)


def entry_point(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group=registry.GROUP)


def make(
    suffix: str, *extra: importlib.metadata.EntryPoint, blocked: list[str] | None = None
) -> registry.Registry:
    points = [
        entry_point("good", f"ebb_good_{suffix}:GOOD"),
        entry_point("broken", f"ebb_broken_{suffix}:ANYTHING"),
        entry_point("misnamed", f"ebb_good_{suffix}:MISNAMED"),
        entry_point("not-a-type", f"ebb_good_{suffix}:NOT_A_TYPE"),
        entry_point("missing-attribute", f"ebb_good_{suffix}:NOPE"),
        *extra,
    ]
    return registry.Registry(entry_points=lambda: points, blocked=blocked or [])


def test_listing_imports_nothing(plugin_modules: str) -> None:
    reg = make(plugin_modules)
    assert reg.names() == ["broken", "good", "misnamed", "missing-attribute", "not-a-type"]
    assert f"ebb_good_{plugin_modules}" not in sys.modules
    assert f"ebb_broken_{plugin_modules}" not in sys.modules


def test_a_type_is_imported_on_first_use_only(plugin_modules: str) -> None:
    reg = make(plugin_modules)
    good = reg.get("good")
    assert good.name == "good" and good.params is cron_schedule.CronParams
    assert reg.get("good") is good
    assert f"ebb_good_{plugin_modules}" in sys.modules
    assert f"ebb_broken_{plugin_modules}" not in sys.modules  # never asked for


def test_a_broken_plugin_fails_only_its_own_type(plugin_modules: str) -> None:
    reg = make(plugin_modules)
    with pytest.raises(base.PluginError) as caught:
        reg.get("broken")
    message = str(caught.value)
    assert f'trigger type "broken" could not be loaded (ebb_broken_{plugin_modules}:ANYTHING' in message
    assert "RuntimeError: plugin exploded on import" in message
    assert reg.get("good").name == "good"
    with pytest.raises(base.PluginError) as again:  # the failure is remembered, not retried
        reg.get("broken")
    assert again.value is caught.value


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        pytest.param(
            "misnamed", 'declares itself as "something-else"; the names must match', id="name-mismatch"
        ),
        pytest.param("not-a-type", "is a dict, expected a scalers.base.ScalerType", id="wrong-object"),
        pytest.param("missing-attribute", "AttributeError", id="missing-attribute"),
        pytest.param("nope", 'unknown trigger type "nope" (known types: broken, good,', id="unknown"),
    ],
)
def test_load_failures_name_the_type_and_the_reason(plugin_modules: str, name: str, fragment: str) -> None:
    with pytest.raises(base.PluginError) as caught:
        make(plugin_modules).get(name)
    assert fragment in str(caught.value)


def test_blocked_types(plugin_modules: str) -> None:
    reg = make(plugin_modules, blocked=["good"])
    assert "good" not in reg.names()
    with pytest.raises(base.PluginError, match="blocked by EBB_BLOCKED_SCALERS"):
        reg.get("good")


def test_blocked_from_the_environment(plugin_modules: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(registry.BLOCKED_ENV, " good , broken")
    points = [entry_point("good", f"ebb_good_{plugin_modules}:GOOD")]
    reg = registry.Registry(entry_points=lambda: points)
    with pytest.raises(base.PluginError, match="blocked"):
        reg.get("good")


def test_a_type_provided_twice_is_an_error(plugin_modules: str) -> None:
    reg = make(plugin_modules, entry_point("good", "somewhere_else:GOOD"))
    with pytest.raises(base.PluginError) as caught:
        reg.get("good")
    assert 'trigger type "good" is provided more than once' in str(caught.value)
    assert f"ebb_good_{plugin_modules}:GOOD" in str(caught.value)
    assert "somewhere_else:GOOD" in str(caught.value)


def test_the_same_entry_point_seen_twice_counts_once(plugin_modules: str) -> None:
    reg = make(plugin_modules, entry_point("good", f"ebb_good_{plugin_modules}:GOOD"))
    assert reg.get("good").name == "good"
    assert len(reg.providers("good")) == 1


def test_providers_name_the_distribution(plugin_modules: str) -> None:
    [provider] = make(plugin_modules).providers("good")
    assert provider == registry.Provider("good", f"ebb_good_{plugin_modules}:GOOD", "unknown distribution")


def test_runtime_registration(plugin_modules: str) -> None:
    reg = make(plugin_modules)
    extra = base.ScalerType(
        name="extra", params=cron_schedule.CronParams, metric=cron_schedule.metric, build=cron_schedule.build
    )
    reg.register(extra)
    assert reg.get("extra") is extra
    assert reg.providers("extra") == [
        registry.Provider("extra", "registered at runtime", "registered at runtime")
    ]
    with pytest.raises(ValueError, match='"good" is already registered'):
        reg.register(cron_schedule.CRON.__class__(**{**cron_schedule.CRON.__dict__, "name": "good"}))


# --- the real installed entry points -----------------------------------------------------------------


def test_every_built_in_type_is_installed_and_loads() -> None:
    reg = registry.Registry()
    assert set(BUILT_IN) <= set(reg.names())
    for name in BUILT_IN:
        scaler_type = reg.get(name)
        assert scaler_type.name == name
        [provider] = reg.providers(name)
        assert provider.distribution.startswith("ebb-autoscaler ")
        assert provider.value.startswith("scalers.")
