"""`ebb operator`: run the operator against the cluster kubectl would use.

The cluster is found as kubectl finds it (`--kubeconfig`, else `KUBECONFIG`, else `~/.kube/config`,
else the in-cluster service account). Every namespace is watched unless `--namespace` names some.
`--scaling-mode direct` makes direct mode the default for ScaledObjects without the
`ebb.dev/scaling-mode` annotation. `/metrics`, `/healthz`, `/readyz` and the decision log
(`/api/v1/scaledobjects/{ns}/{name}/decisions`) are served on `--http-address`, with the dashboard
(`/`, `/scaledobjects/{ns}/{name}`, `/api/v1/dashboard/…`); `--http-token-file` protects the dashboard.
The address's default depends on
where the operator runs: in a pod (`KUBERNETES_SERVICE_HOST` is set) all interfaces, `0.0.0.0:8080`, as
Prometheus and the kubelet's probes reach it on the pod IP; anywhere else (a workstation, `ebb operator`
against a kubeconfig) loopback only, `127.0.0.1:8080`, so the decision log is not offered to the
network by accident. Nothing served there reads a Secret, and the decision log is redacted.

With `--leader-election` several replicas share a `coordination.k8s.io/v1` Lease and one acts;
`--lease-duration`, `--renew-deadline` and `--retry-period` tune it as client-go's flags do.

SIGTERM or SIGINT stops it within 10 s: loops finish their tick and stop, the Lease is released,
connections are closed. Exit status 0 after a clean stop, 2 when no cluster configuration is found.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping

from scaler.core import specs
from scaler.operator import assembly, dashboard_server, kube, leader_election, quiet_logging
from scalers import params

HELP = "run the operator: watch ScaledObjects and scale their targets (KEDA's keda.sh/v1alpha1 API)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    parser.add_argument("--context", help="kubeconfig context to use (default: the current one)")
    parser.add_argument(
        "-n", "--namespace", action="append", default=[], metavar="NS",
        help="watch only this namespace (repeatable; default: all namespaces)",
    )
    parser.add_argument(
        "--scaling-mode", choices=[m.value for m in specs.ScalingMode], default=specs.ScalingMode.HPA.value,
        help="how 1<->N is done for ScaledObjects without the ebb.dev/scaling-mode annotation (default: hpa)",
    )
    parser.add_argument(
        "--cluster-object-namespace", default=os.environ.get("KEDA_CLUSTER_OBJECT_NAMESPACE", "keda"),
        help="where ClusterTriggerAuthentications' Secrets and ConfigMaps live (default: keda)",
    )
    parser.add_argument(
        "--http-address", default=default_http_address(os.environ), metavar="HOST:PORT",
        help="where /metrics, /healthz, /readyz and the decision log are served (default: 0.0.0.0:8080 in a pod, "
        "127.0.0.1:8080 elsewhere; 'off' to disable)",
    )
    parser.add_argument(
        "--http-token-file", metavar="FILE",
        help="require this file's bearer token for the dashboard and /api/ (not /metrics or the probes); "
             "requests from loopback, as through kubectl port-forward, need none unless --http-token-on-loopback",
    )
    parser.add_argument("--http-token-on-loopback", action="store_true",
                        help="with --http-token-file: require the token from loopback clients too")
    parser.add_argument("--metrics-cache", default="2s", metavar="DURATION",
                        help="serve /metrics from one rendering for this long (default: 2s; 0 renders each scrape): "
                             "a rendering at 1,000-2,000 objects costs the event loop seconds")
    parser.add_argument("--leader-election", action="store_true", help="run as one of several replicas holding a Lease")
    parser.add_argument("--lease-name", default="ebb-operator", help="the Lease's name (default: ebb-operator)")
    parser.add_argument("--lease-namespace", help="the Lease's namespace (default: the kubeconfig's namespace)")
    for flag, default, what in (
        ("--lease-duration", leader_election.DEFAULT_LEASE_DURATION, "how long a Lease holds without renewal"),
        ("--renew-deadline", leader_election.DEFAULT_RENEW_DEADLINE, "how long the holder keeps trying to renew"),
        ("--retry-period", leader_election.DEFAULT_RETRY_PERIOD, "how often a replica tries to acquire or renew"),
    ):
        parser.add_argument(flag, default=f"{default:g}s", metavar="DURATION",
                            help=f"{what} (a Go duration such as 15s or 1m, or seconds; default {default:g}s)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def default_http_address(environ: Mapping[str, str]) -> str:
    """All interfaces in a pod (the kubelet sets KUBERNETES_SERVICE_HOST), loopback anywhere else."""
    return "0.0.0.0:8080" if environ.get("KUBERNETES_SERVICE_HOST") else "127.0.0.1:8080"


def _seconds(flag: str, text: str, *, allow_zero: bool = False) -> float:
    """A flag's duration: Go's syntax (`15s`, `1m30s`, `500ms`) or a plain number of seconds."""
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = params.parse_duration(text)
        except ValueError:
            raise ValueError(f"{flag}: expected a duration such as 15s, 1m30s or a number of seconds, got {text!r}") from None
    if allow_zero and seconds == 0:
        return 0.0
    if not seconds > 0:
        expected = "a duration >= 0" if allow_zero else "a positive duration"
        raise ValueError(f"{flag}: expected {expected}, got {text!r}")
    return seconds


def settings_from(args: argparse.Namespace) -> assembly.Settings:
    host, port = "127.0.0.1", None
    if args.http_address != "off":
        host, _, raw_port = args.http_address.rpartition(":")
        if not raw_port.isdigit():
            raise ValueError(f"--http-address: expected HOST:PORT or 'off', got {args.http_address!r}")
        port = int(raw_port)
        host = host or "0.0.0.0"
    lease_duration = _seconds("--lease-duration", args.lease_duration)
    renew_deadline = _seconds("--renew-deadline", args.renew_deadline)
    retry_period = _seconds("--retry-period", args.retry_period)
    if not lease_duration > renew_deadline > retry_period:
        raise ValueError(
            "--lease-duration, --renew-deadline, --retry-period: expected lease duration > renew deadline > retry "
            f"period, got {lease_duration:g}s, {renew_deadline:g}s, {retry_period:g}s")
    if args.http_token_file is not None:
        try:
            dashboard_server.read_token(args.http_token_file)
        except OSError as error:
            raise ValueError(f"--http-token-file {args.http_token_file}: cannot read it: {error.strerror}") from None
    elif args.http_token_on_loopback:
        raise ValueError("--http-token-on-loopback: needs --http-token-file")
    return assembly.Settings(
        metrics_max_age=_seconds("--metrics-cache", args.metrics_cache, allow_zero=True),
        http_token_file=args.http_token_file,
        http_token_on_loopback=args.http_token_on_loopback,
        kubeconfig=args.kubeconfig,
        context=args.context,
        namespaces=tuple(args.namespace),
        scaling_mode=specs.ScalingMode(args.scaling_mode),
        cluster_object_namespace=args.cluster_object_namespace,
        http_host=host,
        http_port=port,
        leader_election=args.leader_election,
        lease_name=args.lease_name,
        lease_namespace=args.lease_namespace,
        lease_duration=lease_duration,
        renew_deadline=renew_deadline,
        retry_period=retry_period,
    )


async def _main(settings: assembly.Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await assembly.Operator(settings).run(stop)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_logging.install()  # names and values quoted in a log line cannot forge another line
    try:
        settings = settings_from(args)
        asyncio.run(_main(settings))
    except ValueError as error:
        print(f"ebb operator: {error}", file=sys.stderr)
        return 2
    except kube.ConfigError as error:
        print(f"ebb operator: {error}", file=sys.stderr)
        return 2
    return 0
