"""``loc3r demo``: the README's main command (see ``loc3r.demo``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo", help="train a tiny model on the synthetic world, localize, answer, score, draw",
        description="Generate synthetic scenes, train the tiny Loc3R model with the committed recipe "
        "(configs/tiny-synthetic.yaml), localize the test split's situations and answer its questions, print "
        "the official metrics and write bird's-eye pictures. About 5 minutes on 2 CPU cores.")
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default demo_out)")
    p.add_argument("--recipe", default="tiny-synthetic", help="training recipe (default tiny-synthetic)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's schedule)")
    p.add_argument("--scenes", type=int, default=None, help="synthetic scenes (default: the recipe's)")
    p.add_argument("--pictures", type=int, default=3, help="test situations drawn (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="more recipe overrides")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from loc3r.demo import DemoConfig, format_summary, run_demo

    cfg = DemoConfig(out=args.out, recipe=args.recipe, train_steps=args.steps, num_scenes=args.scenes,
                     num_pictures=args.pictures, seed=args.seed, progress=not args.quiet,
                     extra_overrides=tuple(args.overrides))
    summary = run_demo(cfg)
    print(format_summary(summary))
    return 0
