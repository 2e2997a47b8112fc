"""The command line: `ebb` and what it prints for a person.

What belongs here: argument parsing, each subcommand's wiring (`commands/`, one module per subcommand,
imported only when it runs), and the demo's assembly and narration (`demo`, `demo_timeline`). A command
module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int` (the exit code).

What must not: scaling logic, Kubernetes access or scaler I/O of its own — commands call the core, the
trigger layer and the operator. Nothing below `scaler.cli` imports it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

# Subcommand -> module. Order is the order `ebb --help` lists them.
COMMANDS: dict[str, str] = {
    "validate": "scaler.cli.commands.validate",
    "probe": "scaler.cli.commands.probe",
    "simulate": "scaler.cli.commands.simulate",
    "scalers": "scaler.cli.commands.scalers",
    "sandbox": "kube_sandbox.cli",
    "operator": "scaler.cli.commands.operator",
    "adapter": "scaler.cli.commands.adapter",
    "demo": "scaler.cli.commands.demo",
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
    try:
        code: int = args._module.run(args)
    except BrokenPipeError:
        # The reader went away (`ebb validate … | head`): stop quietly, as Unix tools do.
        return quiet_after_broken_pipe(1)
    except KeyboardInterrupt:
        return 130
    return code


def quiet_after_broken_pipe(code: int) -> int:
    """After the reader of stdout closed it: point stdout at /dev/null so that the interpreter's final
    flush cannot raise again, and return `code`."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return code

