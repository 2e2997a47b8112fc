"""Ebb's operator core: specs, decisions, the HPA algorithm, the simulator and the edges around them.

Layers (imports point down; `pyproject.toml` [tool.importlinter] enforces the pure part):

* Pure core — no I/O, no wall clock (`now` is always a parameter), no asyncio, no Kubernetes client:
  `problems` (the error record every user-facing check produces), `quantities` (Kubernetes quantity
  formatting), `specs` (ScaledObject / TriggerAuthentication values and their validation), `formulas`
  (scalingModifiers expressions), `decisions` (KEDA's scale-loop decision table), `hpa` (a faithful port
  of the Kubernetes HPA for External metrics), `simulation` (replaying a load trace through both).
* Edges — everything that reads files, talks to servers or owns a clock: `manifests` (reading YAML),
  the `cli` and its commands, and (with the operator) the Kubernetes client module, the scale loop and
  the kopf handlers.

Nothing here imports a specific scaler module: scalers are reached only through `scalers.registry`.
"""
