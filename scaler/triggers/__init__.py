"""Triggers: where a ScaledObject's triggers meet the scalers.

What belongs here: checking each trigger's parameters through the scaler registry (`trigger_checks`),
the metric targets a simulation needs (`trigger_targets`), and asking each trigger's source once
(`probing`). Scalers are reached only through `scalers.registry`, never by module.

What must not: the Kubernetes API, kopf, or anything of the operator process or the command line.
Secrets resolved here are masked (`scalers.url_masking`) before they reach a message.
"""
