"""An in-process Kubernetes API server with real semantics, for tests, `ebb demo` and `ebb sandbox`.

It serves discovery, built-in resources, CRD-defined resources with status and scale subresources,
resourceVersion-based optimistic concurrency, watches with resume and bookmarks, finalizers, garbage
collection, a toy kubelet/controller-manager and fault injection; ServiceAccount tokens, RBAC, TokenReview and
SubjectAccessReview (`identity`, `rbac`, `reviews`); API aggregation (`aggregation`); and an HPA controller
(`hpa_controller`). Clients reach it only over HTTP, exactly as they reach a real cluster. It imports nothing
of Ebb's except, in `hpa_controller`, the pure HPA algorithm (`scaler.core.hpa` and `quantities`).
"""
