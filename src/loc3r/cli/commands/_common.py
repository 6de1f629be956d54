"""Argument helpers shared by several commands (this module is not a command itself).

``add_model_arguments`` adds the prior-backend, device and dtype options of ``eval`` and ``infer``;
``model_options`` turns the parsed values into the matching keyword arguments of ``PredictConfig`` /
``InferConfig``. ``add_command_group`` adds a command that only holds subcommands (``data``, ``prepare``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["parse_backend_args", "add_model_arguments", "model_options", "add_command_group"]


def parse_backend_args(items: list[str] | None) -> dict[str, Any]:
    """``["KEY=VALUE", ...]`` -> dict; a value is parsed as JSON when it is JSON (numbers, true, null).

    Raises:
        ValueError: an item without ``=``.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--backend-arg expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by ``eval`` and ``infer``: prior backend, device, dtype."""
    p.add_argument(
        "--backend",
        default="auto",
        help="camera-prior backend: auto (the model folder's prior_backend.json, else guessed from "
        "the token width: 13/10 -> pose, 768 -> cut3r, 2048 -> vggt), pose, cut3r, vggt, none",
    )
    p.add_argument(
        "--backend-arg",
        action="append",
        metavar="KEY=VALUE",
        help="backend constructor argument, repeatable (e.g. checkpoint=cut3r.safetensors)",
    )
    p.add_argument("--prior-cache", type=Path, metavar="DIR", help="on-disk cache of camera-prior tokens")
    p.add_argument(
        "--device", default="auto", help="auto (CUDA if available), cpu, cuda:0, ... (default auto)"
    )
    p.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", "float32", "bfloat16", "float16"),
        help="weights dtype (default auto: bfloat16 on CUDA, float32 on CPU)",
    )


def model_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of ``add_model_arguments`` as config keyword arguments.

    Returns:
        ``backend``, ``backend_kwargs`` (``--backend-arg`` parsed by ``parse_backend_args``),
        ``prior_cache``, ``device`` and ``dtype``.

    Raises:
        ValueError: a ``--backend-arg`` without ``=``.
    """
    return {
        "backend": args.backend,
        "backend_kwargs": parse_backend_args(args.backend_arg),
        "prior_cache": args.prior_cache,
        "device": args.device,
        "dtype": args.dtype,
    }


def add_command_group(
    subparsers: argparse._SubParsersAction,
    name: str,
    *,
    help: str,
    description: str,
    dest: str,
    metavar: str,
) -> argparse._SubParsersAction:
    """Add command ``name`` whose work is done by its subcommands; return their subparsers.

    Run without a subcommand, the command prints its help and exits with code 2.

    Args:
        subparsers: the top-level subparsers.
        name: the command's name.
        help: its one-line help in the top-level command list.
        description: its ``--help`` description.
        dest: the namespace attribute holding the chosen subcommand's name.
        metavar: how the subcommand is shown in usage lines (e.g. ``SUBCOMMAND``).
    """
    parser = subparsers.add_parser(name, help=help, description=description)
    sub = parser.add_subparsers(dest=dest, metavar=metavar)

    def _usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=_usage)
    return sub
