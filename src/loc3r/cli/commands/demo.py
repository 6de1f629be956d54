"""``loc3r demo``: the README's main command (see ``loc3r.demo``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser("demo", help="run the whole pipeline on the embedded synthetic world",
                              description=__doc__)
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default demo_out)")
    p.add_argument("--scenes", type=int, default=4, help="synthetic scenes (default 4)")
    p.add_argument("--frames-per-scene", type=int, default=120, help="rendered frames per scene (default 120)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic world (default 0)")
    p.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from loc3r.demo import DemoConfig, format_summary, run_demo

    result = run_demo(DemoConfig(out=args.out, num_scenes=args.scenes, frames_per_scene=args.frames_per_scene,
                                 seed=args.seed, workers=args.workers, progress=not args.quiet))
    print(format_summary(result))
    return 0
