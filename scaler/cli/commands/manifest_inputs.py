"""The inputs `ebb validate` and `ebb probe` share: the manifests you would `kubectl apply`, read and checked."""

from __future__ import annotations

import argparse
import sys

from scaler.core import manifests, problems, validating
from scaler.triggers import trigger_checks

UNREADABLE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="manifest file, directory, or - for stdin")
    parser.add_argument(
        "-o", "--output", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    parser.add_argument(
        "-n",
        "--namespace",
        default="default",
        help="namespace for objects that do not name one (default: default)",
    )


def checked(args: argparse.Namespace) -> validating.Report | None:
    """Every object of the files, checked with every trigger's parameters; None (said on stderr) when the
    input cannot be read."""
    try:
        documents = manifests.read(args.files)
    except manifests.ManifestError as error:
        print(problems.escape(f"error: {error}"), file=sys.stderr)
        return None
    return validating.validate(
        documents, trigger_checker=trigger_checks.CHECKER, default_namespace=args.namespace
    )
