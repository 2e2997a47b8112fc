"""`ebb demo`: the whole autoscaling cycle in one process, nothing to install — the Kubernetes API sandbox
with its toy kubelet, the operator, its decision JSON, and a queue that fills and drains, read through the
real `metrics-api` scaler. Prints one line per change and a summary (`scaler.cli.demo`).

Exit codes: 0 the cycle completed (0 → 1 → N → 0, in either mode), 1 it did not within
`--duration`, 2 the demo could not be set up or the options are wrong, 130 stopped by Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from scaler.cli import demo, demo_timeline
from scaler.core import specs

HELP = "Run the sandbox, the operator and a bursty queue in one process; watch it scale 0 → N → 0."

OK, INCOMPLETE, UNUSABLE, INTERRUPTED = 0, 1, 2, 130


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration",
        type=float,
        default=demo.Options.duration,
        metavar="S",
        help=f"seconds the demo may run; the load is fitted into the first half (default {demo.Options.duration:g}, "
        f"at least {demo_timeline.MIN_DURATION:g})",
    )
    parser.add_argument(
        "--mode",
        choices=[m.value for m in specs.ScalingMode],
        default=specs.ScalingMode.DIRECT.value,
        help="direct (default): the operator scales 0↔1↔N itself; hpa: KEDA's way, the operator does 0↔1 "
        "and builds an HPA, and the sandbox's HPA controller does 1↔N from ebb adapter's values",
    )
    parser.add_argument(
        "--ready-delay",
        type=float,
        default=demo.Options.ready_delay,
        metavar="S",
        help=f"seconds before a new pod is Ready (default {demo.Options.ready_delay:g})",
    )
    parser.add_argument("--keep", action="store_true",
                        help="after the cycle keep the sandbox, the operator and its dashboard running until Ctrl-C")
    parser.add_argument("--port", type=int, default=0, metavar="PORT",
                        help="the operator's HTTP port (dashboard, metrics, decisions; default: a free one)")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show the operator's log")


def _say(line: str) -> None:
    print(line, flush=True)


async def _main(options: demo.Options) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def take_signals() -> None:
        # Again once the operator runs: it installs its own, which stop the operator but not the demo.
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)

    take_signals()
    try:
        result = await demo.run(options, emit=_say, stop=stop, on_started=take_signals)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if result.interrupted:
        return INTERRUPTED
    return OK if result.completed else INCOMPLETE


def run(args: argparse.Namespace) -> int:
    if args.duration < demo_timeline.MIN_DURATION:
        print(f"ebb demo: --duration: expected at least {demo_timeline.MIN_DURATION:g} s, got {args.duration:g}",
              file=sys.stderr)
        return UNUSABLE
    if args.ready_delay < 0:
        print(f"ebb demo: --ready-delay: expected a non-negative number, got {args.ready_delay:g}", file=sys.stderr)
        return UNUSABLE
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not 0 <= args.port <= 65535:
        print(f"ebb demo: --port: expected 0 to 65535, got {args.port}", file=sys.stderr)
        return UNUSABLE
    options = demo.Options(duration=args.duration, mode=specs.ScalingMode(args.mode), ready_delay=args.ready_delay,
                           keep=args.keep, http_port=args.port)
    try:
        return asyncio.run(_main(options))
    except demo.DemoError as error:
        print(f"ebb demo: {error}", file=sys.stderr)
        return UNUSABLE
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            print("interrupted", file=sys.stderr)
        return INTERRUPTED
