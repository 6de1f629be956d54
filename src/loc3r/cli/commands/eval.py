"""``loc3r eval``: run a model over a benchmark and write predictions JSONL (then ``loc3r score``).

``loc3r eval --model DIR --benchmark B --data PREPARED --annotations RECORDS.jsonl [...] --out preds.jsonl``;
an existing predictions file is resumed (ids already there are skipped) unless ``--overwrite``. The work is
done by ``loc3r.eval.predict.predict_with_report``; this module only parses arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from loc3r.cli.commands._common import add_model_arguments, model_options
from loc3r.eval.score import BENCHMARKS


def _run(args: argparse.Namespace) -> int:
    from loc3r.eval.predict import PredictConfig, predict_with_report
    from loc3r.utils.import_utils import MissingDependencyError

    cfg = PredictConfig(
        model=args.model,
        benchmark=args.benchmark,
        data=args.data,
        annotations=tuple(args.annotations),
        out=args.out,
        num_frames=args.num_frames,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        scene_cache=not args.no_scene_cache,
        seed=args.seed,
        limit=args.limit,
        embed_records=not args.no_embed_records,
        overwrite=args.overwrite,
        progress=not args.quiet,
        **model_options(args),
    )
    try:
        report = predict_with_report(cfg)
    except MissingDependencyError as e:
        print(f"loc3r eval: error: {e}", file=sys.stderr)
        return 1
    print(report.format())
    print(f"score it with: loc3r score {report.path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``eval`` to the top-level subparsers."""
    p = subparsers.add_parser(
        "eval",
        help="run a model over a benchmark -> predictions .jsonl (then `loc3r score`)",
        description="Localize and answer every benchmark record with a saved Loc3R model (greedy decoding, "
        "fixed frame lists, seeded) and append one JSON line per record to the predictions file: id, raw "
        "output, the pose in the BEV and dataset frames, and the settings in the header. Each scene's video "
        "prefix is encoded once and its KV cache reused for all its queries. Rerunning resumes: ids already "
        "in the file are skipped.",
    )
    p.add_argument(
        "--model", required=True, type=Path, help="model folder (save_pretrained: model + processor)"
    )
    p.add_argument("--benchmark", required=True, choices=BENCHMARKS, help="benchmark to predict")
    p.add_argument(
        "--data", required=True, type=Path, help="prepared scenes folder (`loc3r prepare scannet`)"
    )
    p.add_argument(
        "--annotations",
        required=True,
        nargs="+",
        type=Path,
        metavar="FILE",
        help="unified-records .jsonl file(s) (`loc3r data convert`)",
    )
    p.add_argument("--out", required=True, type=Path, help="predictions .jsonl (resumed when it exists)")
    p.add_argument(
        "--num-frames",
        type=int,
        help="frames per scene (default: the prepared selection; fewer: a fixed uniform subset)",
    )
    p.add_argument("--batch-size", type=int, default=8, help="queries per forward pass (default 8)")
    p.add_argument(
        "--max-new-tokens",
        type=int,
        help="answer length in tokens (default per benchmark: sqa3d 16, scanqa 32, vsibench 16, ...)",
    )
    p.add_argument(
        "--no-scene-cache",
        action="store_true",
        help="run the full prompt per query instead of reusing each scene's cached video prefix",
    )
    add_model_arguments(p)
    p.add_argument("--seed", type=int, default=0, help="torch seed (default 0)")
    p.add_argument("--limit", type=int, help="only the first N benchmark records")
    p.add_argument(
        "--overwrite", action="store_true", help="start a new predictions file instead of resuming"
    )
    p.add_argument(
        "--no-embed-records",
        action="store_true",
        help="do not store the annotation record in each prediction (then pass --annotations to score)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)
