"""``loc3r synth``: generate the embedded synthetic dataset (ScanNet raw layout + benchmark annotations).

``loc3r synth --out DIR [--scenes 4] [--seed 0] [--frames 120] [--width 640 --height 480]
[--depth-width 640 --depth-height 480] [--room-size 3.5 7] [--objects 5 20] [--workers N] [--preview]
[--no-annotations] [--force]`` writes ``DIR/scans/<scene>/...``, ``DIR/annotations/...``, ``DIR/splits/`` and
``DIR/manifest.json``; the same arguments give the same bytes, and a rerun resumes (finished scenes are kept).
The work is done by ``loc3r.data.synthetic.generate.generate_synthetic``; this module only parses arguments.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def _run(args: argparse.Namespace) -> int:
    from loc3r.data.synthetic.config import SynthConfig
    from loc3r.data.synthetic.generate import generate_synthetic

    cfg = SynthConfig(
        out=args.out,
        num_scenes=args.scenes,
        seed=args.seed,
        frames_per_scene=args.frames,
        color_width=args.width,
        color_height=args.height,
        depth_width=args.depth_width if args.depth_width is not None else args.width,
        depth_height=args.depth_height if args.depth_height is not None else args.height,
        room_size_m=tuple(args.room_size),
        num_objects=tuple(args.objects),
        object_categories=tuple(args.categories or ()),
        jpeg_quality=args.jpeg_quality,
        annotations=not args.no_annotations,
        workers=args.workers or min(4, os.cpu_count() or 1, args.scenes),
        progress=not args.quiet,
        preview=args.preview,
        force=args.force,
    )
    manifest = generate_synthetic(cfg)
    c = manifest["counts"]
    splits = ", ".join(f"{k} {v}" for k, v in c["splits"].items())
    print(
        f"wrote {c['scenes']} scenes ({c['frames']} frames, {c['objects']} objects; {splits}) to {args.out}"
    )
    if "annotations" in c:
        print("annotations: " + ", ".join(f"{k} {v}" for k, v in c["annotations"].items()))
    if args.preview:
        print(f"previews: {Path(args.out) / 'preview'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``synth`` to the top-level subparsers."""
    p = subparsers.add_parser(
        "synth",
        help="generate synthetic indoor scenes in ScanNet's format (with SQA3D/ScanQA/VSI-Bench annotations)",
        description="Generate procedural rooms with furniture, a handheld camera walk and rendered RGB-D "
        "frames, written in ScanNet's raw scan layout, with benchmark-format annotations. Same arguments, "
        "same bytes; rerunning resumes.",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--scenes", type=int, default=4, help="number of scenes (default 4)")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--frames", type=int, default=120, help="frames per scene (default 120)")
    p.add_argument("--width", type=int, default=640, help="colour image width (default 640)")
    p.add_argument("--height", type=int, default=480, help="colour image height (default 480)")
    p.add_argument("--depth-width", type=int, default=None, help="depth image width (default: --width)")
    p.add_argument("--depth-height", type=int, default=None, help="depth image height (default: --height)")
    p.add_argument(
        "--room-size",
        type=float,
        nargs=2,
        default=(3.5, 7.0),
        metavar=("MIN", "MAX"),
        help="room side length range in metres (default 3.5 7)",
    )
    p.add_argument(
        "--objects",
        type=int,
        nargs=2,
        default=(5, 20),
        metavar=("MIN", "MAX"),
        help="objects per room (default 5 20)",
    )
    p.add_argument(
        "--categories",
        nargs="+",
        default=None,
        metavar="KEY",
        help="only these object kinds (catalogue keys, e.g. bed sofa desk 'kitchen counter'; default: all)",
    )
    p.add_argument("--jpeg-quality", type=int, default=90, help="JPEG quality of colour frames (default 90)")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="parallel scene processes (default 0: min(4, CPUs, scenes)); the bytes do not depend on it",
    )
    p.add_argument("--no-annotations", action="store_true", help="skip the benchmark annotations")
    p.add_argument(
        "--preview", action="store_true", help="also write preview/<scene>.png (bird's-eye map + frames)"
    )
    p.add_argument(
        "--force", action="store_true", help="regenerate everything, even over a set made with other settings"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)
