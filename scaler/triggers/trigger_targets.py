"""Each trigger's metric name, target and activation threshold, as its scaler declares them.

The simulator replays values without talking to any source, but it must feed the decision core and
the HPA exactly what the operator would: KEDA's metric name, the trigger's target and its activation
threshold. Those come from the scaler registry (the same parameter parser and `ScalerType.metric` the
operator and `ebb probe` use), so a trigger type — including a third-party plugin — is simulated with
the rules it declares, and there is no second copy of KEDA's parameter defaults to drift.
"""

from __future__ import annotations

from collections.abc import Callable

from scaler.core import auth_resolution, simulation, specs, validating
from scaler.triggers import trigger_checks
from scalers import base, registry


def for_scaled_object(
    so: specs.ScaledObjectSpec,
    cluster: validating.Cluster | None = None,
    *,
    scalers: registry.Registry | None = None,
) -> Callable[[specs.Trigger], simulation.TriggerTargets | None]:
    """A `simulation.TargetsFor` for `so`'s triggers. `cluster` supplies what `…FromEnv` parameters and
    authentication refs resolve from (the other documents of the file); without it, only the trigger
    metadata is used."""
    found = cluster or validating.Cluster()
    chosen = scalers or registry.default()

    def targets_for(trigger: specs.Trigger) -> simulation.TriggerTargets | None:
        if trigger.type in specs.RESOURCE_TRIGGER_TYPES:
            return None  # the metrics-server serves cpu/memory: nothing to replay
        prepared = trigger_checks.prepare(
            so,
            trigger,
            auth_resolution.FileSource(found),
            found.workload(so),
            cluster_object_namespace=found.cluster_object_namespace,
        )
        try:
            metric = prepared.resolve(chosen).metric
        except base.PluginError as error:
            raise simulation.TargetError("type", prepared.mask(str(error))) from None
        except base.ConfigError as error:
            first = error.problems[0]
            rest = "; ".join(prepared.mask(str(p)) for p in error.problems[1:])
            message = prepared.mask(first.message) + (f" (also: {rest})" if rest else "")
            raise simulation.TargetError(first.field, message) from None
        return simulation.TriggerTargets(metric.name, metric.target, metric.activation)

    return targets_for
