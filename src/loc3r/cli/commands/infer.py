"""``loc3r infer``: localize a described agent in one scene and answer questions; writes a BEV picture.

``loc3r infer --model DIR --input SCENE|FRAMES_DIR|VIDEO --situation TEXT [--question Q ...] --out DIR``
prints the position (x, y, σ), heading and answers, and writes ``DIR/result.json`` and ``DIR/bev.png``.
The work is done by ``loc3r.eval.infer.infer``; this module only parses arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from loc3r.cli.commands._common import add_model_arguments, model_options


def _run(args: argparse.Namespace) -> int:
    from loc3r.eval.infer import InferConfig, infer
    from loc3r.utils.import_utils import MissingDependencyError

    cfg = InferConfig(
        model=args.model,
        input=args.input,
        situation=args.situation,
        questions=tuple(args.question or ()),
        out_dir=args.out,
        num_frames=args.num_frames,
        annotations=tuple(args.annotations or ()),
        record_id=args.record_id,
        max_new_tokens=args.max_new_tokens,
        plot=not args.no_plot,
        **model_options(args),
    )
    try:
        result = infer(cfg)
    except MissingDependencyError as e:
        print(f"loc3r infer: error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result.to_dict(), indent=1) if args.json else result.format())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``infer`` to the top-level subparsers."""
    p = subparsers.add_parser(
        "infer",
        help="localize + answer on one scene, folder of frames or video; BEV picture",
        description="Run a saved Loc3R model on one scene: the agent's position (x, y, σ) and heading from "
        "the situation text, answers to the questions (the video is encoded once for all of them), and a "
        "bird's-eye picture with the model's cognitive map, the camera path, the predicted pose with its σ "
        "ellipses and the ground truth when known. Frames without camera poses need a model whose prior "
        "comes from CUT3R/VGGT (installed) or no prior.",
    )
    p.add_argument(
        "--model", required=True, type=Path, help="model folder (save_pretrained: model + processor)"
    )
    p.add_argument(
        "--input",
        required=True,
        type=Path,
        help="prepared scene folder (scene.json), folder of frames, or video file",
    )
    p.add_argument(
        "--situation", help="situation text (default: the record's, else 'I am standing in the room')"
    )
    p.add_argument("--question", action="append", metavar="TEXT", help="a question, repeatable")
    p.add_argument("--out", type=Path, metavar="DIR", help="write DIR/result.json and DIR/bev.png")
    p.add_argument(
        "--num-frames",
        type=int,
        help="frames (default: the prepared selection, or 32 sampled from frames / video)",
    )
    p.add_argument(
        "--annotations",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="records .jsonl holding --record-id (ground truth, situation, question)",
    )
    p.add_argument("--record-id", help="a record of this scene: its pose is drawn as the ground truth")
    p.add_argument("--max-new-tokens", type=int, default=32, help="answer length in tokens (default 32)")
    add_model_arguments(p)
    p.add_argument("--no-plot", action="store_true", help="do not draw bev.png")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_run)
