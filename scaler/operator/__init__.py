"""The operator process: Ebb running against a cluster.

What belongs here: the only module that talks to the Kubernetes API (`kube`), KEDA's reconcile
(`reconciling`), one scale loop per ScaledObject on the pure decision core (`scale_loop`), the work queue
that says which change reconciles what (`handlers`), Events posted in the background (`event_recorder`), the Lease and leader election (`leases`, `leader_election`), the HTTP server and what
it serves (`http_server`, `operator_metrics`, `decision_log`), the process's heap care (`heap`) and the
assembly of all of it (`assembly`).

What must not: decisions of its own — what to scale to is computed by `scaler.core`; this package reads
inputs, calls the core and writes results. Nothing printed for a person at a terminal (that is
`scaler.cli`). Only `kube` imports the Kubernetes client library.
"""
