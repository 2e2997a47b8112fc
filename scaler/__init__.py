"""Ebb's autoscaler: one package per layer, imports pointing down toward the pure core.

* `scaler.cli` — the `ebb` command line and the demo: what a person types and reads.
* `scaler.operator` — the operator process: the Kubernetes client, reconcile, scale loops, the work queue,
  leader election, the HTTP server.
* `scaler.triggers` — a ScaledObject's triggers checked and read through the scaler registry.
* `scaler.reports` — pictures for people (HTML/SVG) drawn from plain values.
* `scaler.core` — pure: specs and validation, KEDA's decision table, the HPA algorithm, formulas,
  quantities, the simulator. No I/O, no clock, no asyncio.

`pyproject.toml` [tool.importlinter] enforces the order (cli > operator > triggers | reports > core) and
the purity of the core. Scalers live beside this package in `scalers/`, reached only through
`scalers.registry`.
"""
