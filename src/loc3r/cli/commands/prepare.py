"""``loc3r prepare``: offline dataset preparation.

``loc3r prepare scannet --scans DIR --out DIR [--scenes ID ... | --scene-list FILE] [--num-frames 32]
[--selection uniform|coverage] [--workers N] [--bev-targets] [--image-size 384] ...`` selects frames per
scan and exports them with metadata (and optionally per-token BEV targets). The work is done by
``loc3r.data.prepare.prepare_scannet``; this module only parses arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from loc3r.cli.commands._common import add_command_group


def _run_scannet(args: argparse.Namespace) -> int:
    from loc3r.data.prepare import PrepareConfig, prepare_scannet, read_scene_list

    scenes = None
    if args.scenes:
        scenes = tuple(args.scenes)
    elif args.scene_list is not None:
        scenes = read_scene_list(args.scene_list)
        if not scenes:
            raise ValueError(f"{args.scene_list}: the scene list is empty")
    cfg = PrepareConfig(
        scans_dir=args.scans,
        out_dir=args.out,
        scenes=scenes,
        num_frames=args.num_frames,
        selection=args.selection,
        uniform_anchor=args.uniform_anchor,
        coverage_voxel_size=args.voxel_size,
        coverage_frame_stride=args.coverage_frame_stride,
        coverage_pixel_stride=args.coverage_pixel_stride,
        coverage_ratio=args.coverage_ratio,
        bev_targets=args.bev_targets,
        image_size=args.image_size,
        patch_size=args.patch_size,
        pool_stride=args.pool_stride,
        pool_mode=args.pool_mode,
        bev_color_mapping=args.bev_color_mapping,
        bev_heights=args.bev_heights,
        jpeg_quality=args.jpeg_quality,
        workers=args.workers,
        progress=not args.no_progress,
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = prepare_scannet(cfg)
    except RuntimeError as e:  # another run holds the output folder
        print(f"loc3r prepare scannet: error: {e}", file=sys.stderr)
        return 1
    print(report.summary())
    for name, err in report.failed.items():
        print(f"  failed {name}: {err}", file=sys.stderr)
    if report.failed:
        print(f"  (details in {Path(report.out_dir) / 'prepare_report.json'})", file=sys.stderr)
    return 1 if report.all_failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``prepare`` (with its ``scannet`` subcommand) to the top-level subparsers."""
    sub = add_command_group(
        subparsers,
        "prepare",
        help="select and export frames of a dataset (offline)",
        description="Offline dataset preparation.",
        dest="prepare_command",
        metavar="DATASET",
    )

    p = sub.add_parser(
        "scannet",
        help="ScanNet scans -> selected frames, metadata, instances (+ BEV targets)",
        description="For every scene folder under --scans (raw scan folders with .sens, SensReader exports "
        "or EmbodiedScan posed_images): select frames, export colour (JPEG), depth (16-bit PNG, mm), poses "
        "(4x4 camera-to-world, raw world) and intrinsics, scene metadata and object instances, and "
        "optionally per-token BEV targets. Scenes are written atomically; a rerun skips completed scenes. "
        "Bad scenes are skipped and listed in <out>/prepare_report.json; the exit code is 1 only if every "
        "scene failed.",
    )
    p.add_argument("--scans", required=True, type=Path, help="folder with one sub-folder per scene")
    p.add_argument("--out", required=True, type=Path, help="output folder (one sub-folder per scene)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--scenes", nargs="+", metavar="ID", help="only these scene ids (default: all)")
    which.add_argument("--scene-list", type=Path, metavar="FILE",
                       help="file with one scene id per line ('#' comments), e.g. scannetv2_val.txt")
    p.add_argument("--num-frames", type=int, default=32, help="frames per scene (default 32, as the paper)")
    p.add_argument("--selection", choices=("uniform", "coverage"), default="uniform",
                   help="uniform spacing over valid frames (paper) or greedy voxel max-coverage "
                   "(Video-3D LLM)")
    p.add_argument("--uniform-anchor", choices=("endpoints", "centers"), default="endpoints",
                   help="uniform: linspace incl. first and last frame (LLaVA-Video) or segment centres")
    p.add_argument("--voxel-size", type=float, default=0.1,
                   help="coverage: voxel edge in metres (default 0.1)")
    p.add_argument("--coverage-frame-stride", type=int, default=10,
                   help="coverage: candidates are every n-th valid frame (default 10)")
    p.add_argument("--coverage-pixel-stride", type=int, default=4,
                   help="coverage: depth pixel subsampling when voxelising (default 4)")
    p.add_argument("--coverage-ratio", type=float, default=None,
                   help="coverage: stop once this fraction of voxels is covered (e.g. 0.9); default: always "
                   "--num-frames frames")
    p.add_argument("--bev-targets", action="store_true",
                   help="also write per-token BEV targets (bev_targets.npz)")
    p.add_argument("--image-size", type=int, default=384, help="BEV targets: model input size (default 384)")
    p.add_argument("--patch-size", type=int, default=14, help="BEV targets: ViT patch size (default 14)")
    p.add_argument("--pool-stride", type=int, default=2, help="BEV targets: token pooling stride (default 2)")
    p.add_argument("--pool-mode", choices=("bilinear", "block"), default="bilinear",
                   help="BEV targets: LLaVA-Video bilinear pooling or block average pooling")
    p.add_argument("--bev-color-mapping", choices=("intrinsics", "registered"), default="intrinsics",
                   help="BEV targets: map depth pixels to colour tokens through both intrinsics, or assume "
                   "registered images")
    p.add_argument("--bev-heights", action="store_true",
                   help="BEV targets: also store the mean height per token")
    p.add_argument("--jpeg-quality", type=int, default=95,
                   help="JPEG quality when a colour frame must be re-encoded (stored JPEGs are copied as "
                   "they are)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes over scenes (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_scannet)
