"""`ebb adapter`: serve `external.metrics.k8s.io/v1beta1` to the HPA from the operator's readings.

The flags are those of Kubernetes' generic API server (`--secure-port`, `--bind-address`,
`--tls-cert-file`, `--tls-private-key-file`, `--client-ca-file`, `--requestheader-*`,
`--authorization-always-allow-paths`); what the authentication flags leave unset is read from ConfigMap
`kube-system/extension-apiserver-authentication`. The cluster is found as kubectl finds it, and the
operator through the Lease it advertises its readings in (`ebb-operator-readings`, in the kubeconfig's
namespace unless `--readings-namespace`). SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from metrics_adapter import running, security
from scaler.operator import kube, quiet_logging

HELP = "serve the external metrics API (external.metrics.k8s.io/v1beta1) for HPAs from the operator's readings"


def _list(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--secure-port", type=int, default=6443, help="HTTPS port (default 6443; 0 picks a free one)")
    parser.add_argument("--bind-address", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--tls-cert-file", help="serving certificate (PEM); default: a self-signed one for localhost")
    parser.add_argument("--tls-private-key-file", help="the serving certificate's private key (PEM)")
    parser.add_argument("--client-ca-file", help="CA bundle for client certificates (default: the ConfigMap's client-ca-file)")
    parser.add_argument("--requestheader-client-ca-file",
                        help="CA bundle of the front proxy's client certificate (default: the ConfigMap's)")
    parser.add_argument("--requestheader-allowed-names", type=_list,
                        help="comma-separated CNs the front proxy may have (empty: any; default: the ConfigMap's)")
    parser.add_argument("--requestheader-username-headers", type=_list, help="e.g. X-Remote-User (default: the ConfigMap's)")
    parser.add_argument("--requestheader-group-headers", type=_list, help="e.g. X-Remote-Group (default: the ConfigMap's)")
    parser.add_argument("--requestheader-extra-headers-prefix", type=_list,
                        help="e.g. X-Remote-Extra- (default: the ConfigMap's)")
    parser.add_argument("--authorization-always-allow-paths", type=_list,
                        default=security.DEFAULT_ALWAYS_ALLOW_PATHS,
                        help="paths served without authentication or authorization (default /healthz,/readyz,/livez)")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    parser.add_argument("--context", help="kubeconfig context to use (default: the current one)")
    parser.add_argument("--readings-namespace", help="namespace of the operator's readings Lease (default: the kubeconfig's)")
    parser.add_argument("--service-name", default="ebb-metrics-apiserver",
                        help="the Service in front of the adapter, which the APIService should name (default ebb-metrics-apiserver)")
    parser.add_argument("--service-namespace", help="that Service's namespace (default: the kubeconfig's)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def settings_from(args: argparse.Namespace) -> running.Settings:
    if not 0 <= args.secure_port <= 65535:
        raise ValueError(f"--secure-port: expected 0-65535, got {args.secure_port}")
    return running.Settings(
        secure_port=args.secure_port,
        bind_address=args.bind_address,
        tls_cert_file=args.tls_cert_file,
        tls_private_key_file=args.tls_private_key_file,
        flags=security.Flags(
            client_ca_file=args.client_ca_file,
            requestheader_client_ca_file=args.requestheader_client_ca_file,
            requestheader_allowed_names=args.requestheader_allowed_names,
            requestheader_username_headers=args.requestheader_username_headers,
            requestheader_group_headers=args.requestheader_group_headers,
            requestheader_extra_headers_prefix=args.requestheader_extra_headers_prefix,
            always_allow_paths=tuple(args.authorization_always_allow_paths),
        ),
        kubeconfig=args.kubeconfig,
        context=args.context,
        readings_namespace=args.readings_namespace,
        service_name=args.service_name,
        service_namespace=args.service_namespace,
    )


async def _main(settings: running.Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await running.Runner(settings).run(stop)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_logging.install()  # names quoted in a log line cannot forge another line
    try:
        asyncio.run(_main(settings_from(args)))
    except (ValueError, kube.ConfigError, security.ConfigError) as error:
        print(f"ebb adapter: {error}", file=sys.stderr)
        return 2
    return 0
