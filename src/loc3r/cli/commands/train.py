"""``loc3r train RECIPE.yaml [key=value ...]``: run a training recipe.

``loc3r train configs/tiny-synthetic.yaml`` trains the tiny model on the synthetic set on a CPU (generating
and preparing the data first when missing); ``torchrun --nproc_per_node 8 -m loc3r train
configs/loc3r-llava-video-7b.yaml`` is the paper's run. Overrides address any recipe field by its dotted path
(``training.learning_rate=1e-4 data.sources.0.ratio=0.5``). ``--dry-run`` validates the recipe and prints it
resolved. Rerunning a command whose run was interrupted resumes it from its last complete checkpoint. The work
is done by ``loc3r.training.train.train``; this module only parses arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys


def _format_summary(summary: dict) -> str:
    lines = [f"run: {summary['output_dir']} ({summary['global_step']} steps, {summary['elapsed_s']:.0f} s)"]
    curves = summary.get("loss_curves") or {}
    if curves:
        lines.append(f"{'loss term':<12}{'first':>12}{'last':>12}")
        for name, c in curves.items():
            lines.append(f"{name:<12}{c['first']:>12.4f}{c['last']:>12.4f}")
    metrics = summary.get("eval_metrics") or {}
    loc = {k: v for k, v in metrics.items() if "_loc_" in k or "_origin_" in k}
    if loc:
        lines.append(
            "held-out localization: "
            + ", ".join(f"{k.removeprefix('eval_')} {v:.2f}" for k, v in sorted(loc.items()))
        )
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from loc3r.training.recipe import load_recipe

    overrides = list(args.overrides)
    dry_run = args.dry_run or "--dry-run" in overrides
    overrides = [o for o in overrides if o != "--dry-run"]
    flags = [o for o in overrides if o.startswith("-")]
    if flags:
        raise ValueError(f"unknown option(s) {flags} (overrides are KEY=VALUE)")
    recipe = load_recipe(args.recipe, overrides)
    if dry_run:
        print(recipe.to_yaml(), end="")
        return 0
    from loc3r.training.train import train
    from loc3r.training.trainer import NonFiniteLossError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        result = train(recipe)
    except NonFiniteLossError as e:
        print(f"loc3r train: stopped: {e}", file=sys.stderr)
        return 1
    if result is not None and _is_main_process():
        print(_format_summary(result.summary()))
    return 0


def _is_main_process() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` to the top-level subparsers."""
    p = subparsers.add_parser(
        "train",
        help="train Loc3R-VLM from a recipe (CPU minutes to the paper's multi-GPU run)",
        description="Run a training recipe (YAML with model / data / training sections). Shipped recipes: "
        "configs/tiny-synthetic.yaml (CPU), configs/loc3r-llava-video-7b.yaml (the paper's run, 8-16 GPUs "
        "with torchrun), configs/loc3r-llava-video-7b-lora.yaml (one 24-48 GB GPU). Rerunning an interrupted "
        "run resumes from its last complete checkpoint.",
    )
    p.add_argument("recipe", help="recipe YAML (a path, or configs/<name>.yaml for a shipped recipe)")
    p.add_argument(
        "overrides",
        nargs=argparse.REMAINDER,
        metavar="KEY=VALUE",
        help="dotted overrides, e.g. training.learning_rate=1e-4 data.sources.0.ratio=0.5 (YAML values)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="validate and print the resolved recipe; no training"
    )
    p.set_defaults(func=_run)
