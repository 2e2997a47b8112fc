"""The external metrics API (`external.metrics.k8s.io/v1beta1`) for the HPA.

It answers from the values the operator last measured and never queries event sources itself. Pure
request-to-response code lives apart from the HTTP server so that it is table-tested.
"""
