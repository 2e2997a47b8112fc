"""`ebb sandbox`: run the Kubernetes API sandbox standalone on loopback and print a kubeconfig for it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import pathlib
import signal
import sys
from typing import Any

import yaml

from kube_sandbox import kubelet, server, testing

HELP = "Run an in-process Kubernetes API sandbox (HTTP on loopback) and print a kubeconfig for it."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default: 127.0.0.1)")
    parser.add_argument("--token", default=None,
                        help="require this bearer token (default: any token is accepted)")
    parser.add_argument("--crds", type=pathlib.Path, default=None, metavar="DIR",
                        help="preload CustomResourceDefinitions from the YAML files in DIR")
    parser.add_argument("--kubelet", action=argparse.BooleanOptionalAction, default=True,
                        help="run the toy kubelet/controller-manager (pods for Deployments/StatefulSets)")
    parser.add_argument("--ready-delay", type=float, default=1.0, metavar="SECONDS",
                        help="seconds until a new pod is Running and Ready (default: 1.0)")
    parser.add_argument("--kubeconfig", type=pathlib.Path, default=None, metavar="FILE",
                        help="also write the kubeconfig to FILE (mode 0600)")
    parser.add_argument("--rbac", action="store_true",
                        help="enforce RBAC (bootstrap policy preloaded; the kubeconfig's token is system:admin in "
                             "system:masters, anonymous callers are system:anonymous). kubectl sends no token "
                             "to a plain-HTTP server: add --tls for kubectl")
    parser.add_argument("--tls", action="store_true",
                        help="serve HTTPS (the kubeconfig carries the CA); client certificates of the client CA "
                             "authenticate too. kubectl needs it to send its token under --rbac")
    parser.add_argument("--hpa-controller", action=argparse.BooleanOptionalAction, default=True,
                        help="run the HPA controller (autoscaling/v2, External metrics through the aggregation layer)")
    parser.add_argument("--hpa-sync-period", type=float, default=15.0, metavar="SECONDS",
                        help="seconds between HPA syncs, as --horizontal-pod-autoscaler-sync-period (default: 15)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_crds(directory: pathlib.Path) -> list[dict[str, Any]]:
    """CRDs from every *.yaml/*.yml/*.json file in `directory` (multi-document files allowed)."""
    if not directory.is_dir():
        raise ValueError(f"--crds {directory}: not a directory")
    found: list[dict[str, Any]] = []
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    for path in files:
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as exc:
            raise ValueError(f"--crds {path}: not valid YAML: {exc}") from exc
        for n, doc in enumerate(documents):
            if doc is None:
                continue
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                raise ValueError(f"--crds {path} document {n}: expected kind CustomResourceDefinition, "
                                 f"got {doc.get('kind') if isinstance(doc, dict) else type(doc).__name__}")
            found.append(doc)
    return found


def run(args: argparse.Namespace) -> int:
    if not _is_loopback(args.host):
        print(f"ebb sandbox: --host {args.host}: only loopback addresses are allowed", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"ebb sandbox: --port {args.port}: expected 0..65535", file=sys.stderr)
        return 2
    if not args.hpa_sync_period > 0:
        print(f"ebb sandbox: --hpa-sync-period {args.hpa_sync_period}: expected a number of seconds > 0", file=sys.stderr)
        return 2
    try:
        crds = load_crds(args.crds) if args.crds else []
    except (ValueError, OSError) as exc:
        print(f"ebb sandbox: {exc}", file=sys.stderr)
        return 2
    config = server.Config(host=args.host, port=args.port, token=args.token, crds=crds,
                           kubelet=kubelet.Settings(enabled=args.kubelet, ready_delay=args.ready_delay),
                           rbac=args.rbac, hpa_controller=args.hpa_controller, hpa_sync_period=args.hpa_sync_period,
                           tls=args.tls)
    try:
        return asyncio.run(_serve(config, args))
    except KeyboardInterrupt:
        return 0


async def _serve(config: server.Config, args: argparse.Namespace) -> int:
    sandbox = server.Server(config)
    try:
        await sandbox.start()
    except OSError as exc:
        print(f"ebb sandbox: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"ebb sandbox: cannot start: {exc}", file=sys.stderr)
        return 1
    token = config.token or testing.DEFAULT_TOKEN
    ca_pem = sandbox.authority.client_ca_pem() if config.tls else None
    kubeconfig = testing.kubeconfig_for(sandbox.base_url, token=token, ca_pem=ca_pem)
    if args.kubeconfig:
        testing.write_kubeconfig(args.kubeconfig, kubeconfig)
    shown = kubeconfig
    if config.token:
        # The configured token is a secret: the printed copy masks it; --kubeconfig FILE holds the real one.
        shown = testing.kubeconfig_for(sandbox.base_url, token="<the --token value>", ca_pem=ca_pem)
    hpa = f"HPA controller every {config.hpa_sync_period:g} s" if config.hpa_controller else "no HPA controller"
    print(f"# Kubernetes API sandbox listening on {sandbox.base_url} ({len(config.crds)} CRDs preloaded, "
          f"kubelet {'on' if config.kubelet.enabled else 'off'}, RBAC {'on' if config.rbac else 'off'}, {hpa})",
          flush=True)
    if args.kubeconfig:
        print(f"# kubeconfig written to {args.kubeconfig}", flush=True)
    print(yaml.safe_dump(shown, sort_keys=False), end="", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sandbox.stop()
    return 0
