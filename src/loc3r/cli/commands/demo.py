"""``loc3r demo``: the README's main command (see ``loc3r.demo``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo", help="localize and answer on fresh synthetic scenes with the committed tiny model",
        description="Generate synthetic scenes the committed tiny Loc3R checkpoint never saw, localize every "
        "situation and answer every question, print the official metrics next to the trivial baselines and "
        "write bird's-eye pictures (about 2 minutes on 2 CPU cores). --train trains a tiny model from "
        "scratch with a recipe (configs/tiny-synthetic.yaml) instead.")
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default demo_out)")
    p.add_argument("--model", type=Path, default=None,
                   help="model folder to evaluate (default: the committed tiny-benchmark-full checkpoint)")
    p.add_argument("--train", action="store_true", help="train from scratch with --recipe first")
    p.add_argument("--recipe", default="tiny-synthetic", help="recipe of --train (default tiny-synthetic)")
    p.add_argument("--steps", type=int, default=None, help="steps of --train (default: the recipe's)")
    p.add_argument("--scenes", type=int, default=None, help="scenes (default 12; --train: the recipe's)")
    p.add_argument("--pictures", type=int, default=3, help="situations drawn (default 3)")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic world (default 7)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="more recipe overrides")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from loc3r.demo import DemoConfig, format_summary, run_demo

    cfg = DemoConfig(out=args.out, model=args.model, train=args.train, recipe=args.recipe,
                     train_steps=args.steps, num_scenes=args.scenes,
                     num_pictures=args.pictures, seed=args.seed, progress=not args.quiet,
                     extra_overrides=tuple(args.overrides))
    summary = run_demo(cfg)
    print(format_summary(summary))
    return 0
