"""Pluggable scalers: one module per trigger type, registered through the `ebb.scalers` entry-point group.

What belongs here: the scaler interface (`base`), the shared declared-parameter parser (`params`), the
lazy registry (`registry`), TriggerAuthentication resolution (`auth`), shared connections
(`connections`) and one module per trigger type.

What must not: anything from the operator (`scaler`), kopf or the Kubernetes client. A scaler gets its
inputs (metadata, resolved auth parameters, resolved container env) as plain mappings, so the operator
and the CLI feed it the same way.
"""
