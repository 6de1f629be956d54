"""The ``loc3r`` console command.

Each subcommand lives in ``loc3r.cli.commands.<name>`` and exposes ``register(subparsers)``; the module only
parses arguments and calls a plain library function (so tests call the same functions in-process). Modules are
imported when the parser is built, and must not import heavy dependencies (torch, transformers) at module
scope.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from loc3r import __version__

# Order shown in ``loc3r --help``.
COMMANDS: list[str] = [
    "demo",
    "synth",
    "prepare",
    "data",
    "score",
    "eval",
    "infer",
    "train",
]


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="loc3r",
        description="Loc3R-VLM: localize an agent from a situation text and answer situated questions "
        "about a scene seen in a monocular video.",
    )
    parser.add_argument("--version", action="version", version=f"loc3r {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"loc3r.cli.commands.{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse ``argv`` and run the chosen command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        rc = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError) as e:  # data errors: one clear line, no traceback
        print(f"loc3r {args.command}: error: {e}", file=sys.stderr)
        return 1
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
