"""``loc3r data``: annotation-file utilities.

``loc3r data convert --source sqa3d|scanqa|vsibench|msqa|beacon3d <inputs...> --out records.jsonl [--strict]``
reads a benchmark's annotation files and writes the unified records (one JSON object per line), then prints
how many were written and which items were skipped and why. The work is done by
``loc3r.data.sources.convert.convert_to_jsonl``; this module only parses arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from loc3r.cli.commands._common import add_command_group
from loc3r.data.sources.registry import SOURCES


def _run_convert(args: argparse.Namespace) -> int:
    from loc3r.data.sources.convert import convert_to_jsonl

    try:
        summary = convert_to_jsonl(args.source, args.inputs, args.out, strict=args.strict)
    except ImportError as e:  # an optional reader dependency (e.g. pyarrow for .parquet) is missing
        print(f"loc3r data convert: error: {e}", file=sys.stderr)
        return 1
    print(summary.format(max_problems=args.max_problems))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``data`` (with its ``convert`` subcommand) to the top-level subparsers."""
    sub = add_command_group(
        subparsers,
        "data",
        help="convert benchmark annotation files to unified records",
        description="Annotation-file utilities.",
        dest="data_command",
        metavar="SUBCOMMAND",
    )

    conv = sub.add_parser(
        "convert",
        help="annotation files -> records.jsonl",
        description="Read a benchmark's annotation files and write one unified record (JSON) per line. "
        "SQA3D needs the questions and annotations files together (any order). Bad items are skipped, "
        "counted and listed unless --strict.",
    )
    conv.add_argument("--source", required=True, choices=SOURCES, help="annotation format of the inputs")
    conv.add_argument("inputs", nargs="+", type=Path, help="annotation files of that source")
    conv.add_argument("--out", required=True, type=Path, help="output JSONL file (written atomically)")
    conv.add_argument("--strict", action="store_true",
                      help="stop at the first bad item instead of skipping it")
    conv.add_argument("--max-problems", type=int, default=20, help="skip reasons to print (default 20)")
    conv.set_defaults(func=_run_convert)
