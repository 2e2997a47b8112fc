"""`ebb`: the command line. Each subcommand lives in its own module, imported only when it runs.

A command module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int` (the exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

# Subcommand -> module. Order is the order `ebb --help` lists them.
COMMANDS: dict[str, str] = {
    "validate": "scaler.commands.validate",
    "probe": "scaler.commands.probe",
    "simulate": "scaler.commands.simulate",
    "scalers": "scaler.commands.scalers",
    "sandbox": "kube_sandbox.cli",
    "operator": "scaler.commands.operator",
    "demo": "scaler.commands.demo",
}


def _load(module_name: str) -> ModuleType:
    return importlib.import_module(module_name)


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ebb", description="Ebb: event-driven autoscaling, KEDA-compatible.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in commands or COMMANDS:
        module = _load(COMMANDS[name])
        command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Only the named command's module is imported (a broken optional one cannot break the others).
    chosen = [a for a in args_list if a in COMMANDS][:1]
    parser = build_parser(chosen or None)
    args = parser.parse_args(args_list)
    code: int = args._module.run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
